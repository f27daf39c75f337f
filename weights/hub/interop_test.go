package hub

import (
	"context"
	"encoding/json"
	"github.com/steer-dev/steer/internal/sharedtest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPythonInterop checks the cache against the real huggingface_hub, both ways: Python
// reads (offline) what steer pulled, and steer resolves (offline) what Python downloaded
// from the same fake hub. STEER_HF_PYTHON names a Python interpreter with huggingface_hub
// installed (`make test` sets it).
func TestPythonInterop(t *testing.T) {
	py := sharedtest.Env(t, "STEER_HF_PYTHON", "a python with huggingface_hub, e.g. \"$(scripts/venv.sh)/bin/python\"")
	f := newFakeHub(t)
	repo := f.addRepo("org/model", modelRepo)
	goCache, pyCache := t.TempDir(), t.TempDir()
	snap, err := Pull(context.Background(), "org/model", "main", f.opts(goCache, nil))
	must(t, err)

	const script = `
import json, os, sys
from huggingface_hub import snapshot_download, hf_hub_download, scan_cache_dir
mode = sys.argv[1]
out = {}
if mode == "read":
    out["dir"] = snapshot_download("org/model")
    p = hf_hub_download("org/model", "model.safetensors")
    out["weights"] = os.path.realpath(p)
    info = scan_cache_dir()
    out["warnings"] = [str(w) for w in info.warnings]
    out["repos"] = [r.repo_id for r in info.repos]
else:
    out["dir"] = snapshot_download("org/model", allow_patterns=["*.json", "*.safetensors"])
print(json.dumps(out))
`
	runPy := func(mode string, env ...string) map[string]any {
		cmd := exec.Command(py, "-c", script, mode)
		cmd.Env = append(os.Environ(), env...)
		b, err := cmd.Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				t.Fatalf("python %s: %v\n%s", mode, err, ee.Stderr)
			}
			t.Fatal(err)
		}
		var out map[string]any
		must(t, json.Unmarshal(b, &out))
		return out
	}

	got := runPy("read", "HF_HUB_CACHE="+goCache, "HF_HUB_OFFLINE=1", "HF_HUB_DISABLE_TELEMETRY=1")
	if got["dir"] != snap.Dir {
		t.Errorf("python snapshot_download = %v, want %s", got["dir"], snap.Dir)
	}
	wantBlob := filepath.Join(goCache, "models--org--model", "blobs", sha256hex([]byte(modelRepo["model.safetensors"])))
	if got["weights"] != wantBlob {
		t.Errorf("python hf_hub_download -> %v, want %s", got["weights"], wantBlob)
	}
	if w, _ := got["warnings"].([]any); len(w) != 0 {
		t.Errorf("scan_cache_dir warnings: %v", w)
	}

	got = runPy("download", "HF_HUB_CACHE="+pyCache, "HF_ENDPOINT="+f.hub.URL, "HF_HUB_DISABLE_TELEMETRY=1", "HF_HUB_DISABLE_XET=1")
	dir, err := Resolve(context.Background(), "org/model", Options{CacheDir: pyCache, Offline: true})
	must(t, err)
	if dir != got["dir"] || filepath.Base(dir) != repo.commit {
		t.Errorf("steer resolved %s, python wrote %v", dir, got["dir"])
	}
	// Same layout: every file both wrote links to the same relative blob path.
	for _, name := range snap.Files {
		ours, err1 := os.Readlink(filepath.Join(snap.Dir, name))
		theirs, err2 := os.Readlink(filepath.Join(dir, name))
		if err1 != nil || err2 != nil || ours != theirs {
			t.Errorf("%s: steer -> %s (%v), python -> %s (%v)", name, ours, err1, theirs, err2)
		}
	}
	ref, _ := os.ReadFile(filepath.Join(pyCache, "models--org--model", "refs", "main"))
	if string(ref) != repo.commit {
		t.Errorf("python refs/main = %q", ref)
	}
}
