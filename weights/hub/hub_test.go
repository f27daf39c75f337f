package hub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHub serves the hub endpoints for repos whose files live in directories created by
// the test. Small files are served by the hub with a git blob sha1 ETag; LFS files
// (weights) redirect to a second server, the "CDN", with X-Linked-Etag = sha256.
type fakeHub struct {
	t        *testing.T
	hub, cdn *httptest.Server
	requests atomic.Int64

	mu       sync.Mutex
	repos    map[string]*fakeRepo
	ranges   []string        // Range headers the CDN saw
	cdnAuth  []string        // Authorization headers the CDN saw (must stay empty)
	hubAuth  []string        // Authorization headers the hub saw
	cutOnce  map[string]bool // file served half then the connection is cut, once
	corrupt  map[string]bool // file served with flipped bytes
	stall    map[string]bool // file served half, then nothing until the client gives up
	statuses map[string]int  // file -> status to answer on resolve
}

type fakeRepo struct {
	dir    string
	commit string
	token  string   // when set, requests need "Bearer <token>"
	extra  []string // extra names in the listing (not served)
}

func newFakeHub(t *testing.T) *fakeHub {
	f := &fakeHub{t: t, repos: map[string]*fakeRepo{}, cutOnce: map[string]bool{},
		corrupt: map[string]bool{}, stall: map[string]bool{}, statuses: map[string]int{}}
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
	f.hub = httptest.NewServer(http.HandlerFunc(f.serveHub))
	t.Cleanup(func() { f.hub.Close(); f.cdn.Close() })
	return f
}

// addRepo writes files into a fresh directory and registers the repo.
func (f *fakeHub) addRepo(id string, files map[string]string) *fakeRepo {
	dir := f.t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		must(f.t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(f.t, os.WriteFile(p, []byte(data), 0o644))
	}
	sum := sha1.Sum([]byte(id))
	r := &fakeRepo{dir: dir, commit: hex.EncodeToString(sum[:])}
	f.mu.Lock()
	f.repos[id] = r
	f.mu.Unlock()
	return r
}

func isLFS(name string) bool {
	for _, ext := range []string{".safetensors", ".bin", ".npz", ".pt"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func gitSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// repoFor finds the repo and the rest of the path after "org/name/".
func (f *fakeHub) repoFor(p string) (string, *fakeRepo, string) {
	parts := strings.SplitN(p, "/", 3)
	if len(parts) < 2 {
		return "", nil, ""
	}
	id := parts[0] + "/" + parts[1]
	rest := ""
	if len(parts) == 3 {
		rest = parts[2]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return id, f.repos[id], rest
}

func (f *fakeHub) authorized(r *http.Request, repo *fakeRepo) bool {
	return repo.token == "" || r.Header.Get("Authorization") == "Bearer "+repo.token
}

func (f *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	f.hubAuth = append(f.hubAuth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/models/"); ok {
		id, repo, tail := f.repoFor(rest)
		if t, ok := strings.CutPrefix(tail, "tree/"); ok && repo != nil { // newer huggingface_hub lists the tree
			f.serveTree(w, repo, t)
			return
		}
		rev, ok := strings.CutPrefix(tail, "revision/")
		switch {
		case repo == nil || !ok:
			http.Error(w, "not found", 404)
		case !f.authorized(r, repo):
			http.Error(w, "unauthorized", 401)
		case rev != "main" && rev != repo.commit:
			http.Error(w, "not found", 404)
		default:
			var sib []map[string]string
			_ = filepath.WalkDir(repo.dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(repo.dir, p)
					sib = append(sib, map[string]string{"rfilename": filepath.ToSlash(rel)})
				}
				return nil
			})
			for _, e := range repo.extra {
				sib = append(sib, map[string]string{"rfilename": e})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "sha": repo.commit, "siblings": sib})
		}
		return
	}
	_, repo, tail := f.repoFor(strings.TrimPrefix(r.URL.Path, "/"))
	rest, ok := strings.CutPrefix(tail, "resolve/")
	if repo == nil || !ok {
		http.Error(w, "not found", 404)
		return
	}
	rev, name, _ := strings.Cut(rest, "/")
	if !f.authorized(r, repo) {
		http.Error(w, "unauthorized", 401)
		return
	}
	if rev != "main" && rev != repo.commit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		http.Error(w, "not found", 404)
		return
	}
	f.mu.Lock()
	st := f.statuses[name]
	f.mu.Unlock()
	if st != 0 {
		http.Error(w, "nope", st)
		return
	}
	data, err := os.ReadFile(filepath.Join(repo.dir, filepath.FromSlash(name)))
	if err != nil {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, "not found", 404)
		return
	}
	w.Header().Set("X-Repo-Commit", repo.commit)
	if isLFS(name) {
		w.Header().Set("X-Linked-Etag", `"`+sha256hex(data)+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
		w.Header().Set("ETag", `"`+gitSHA1([]byte("pointer"))+`"`)
		w.Header().Set("Location", f.cdn.URL+"/"+strings.TrimPrefix(r.URL.Path, "/")+"?X-Amz-Signature=cdnsecret")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+gitSHA1(data)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(data)
	}
}

// serveTree answers GET /api/models/{repo}/tree/{rev} (recursive), as huggingface_hub >= 1.x
// asks; steer itself uses the revision endpoint.
func (f *fakeHub) serveTree(w http.ResponseWriter, repo *fakeRepo, rev string) {
	if rev != "main" && rev != repo.commit {
		http.Error(w, "not found", 404)
		return
	}
	var out []map[string]any
	_ = filepath.WalkDir(repo.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(repo.dir, p)
		data, _ := os.ReadFile(p)
		e := map[string]any{"type": "file", "path": filepath.ToSlash(rel), "size": len(data), "oid": gitSHA1(data)}
		if isLFS(rel) {
			e["lfs"] = map[string]any{"oid": sha256hex(data), "size": len(data), "pointerSize": 130}
		}
		out = append(out, e)
		return nil
	})
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	_, repo, tail := f.repoFor(strings.TrimPrefix(r.URL.Path, "/"))
	rest, _ := strings.CutPrefix(tail, "resolve/")
	_, name, _ := strings.Cut(rest, "/")
	f.mu.Lock()
	f.cdnAuth = append(f.cdnAuth, r.Header.Get("Authorization"))
	if rg := r.Header.Get("Range"); rg != "" {
		f.ranges = append(f.ranges, rg)
	}
	cut, corrupt, stall := f.cutOnce[name], f.corrupt[name], f.stall[name]
	delete(f.cutOnce, name)
	f.mu.Unlock()
	if repo == nil || r.URL.Query().Get("X-Amz-Signature") != "cdnsecret" {
		http.Error(w, "forbidden", 403)
		return
	}
	data, err := os.ReadFile(filepath.Join(repo.dir, filepath.FromSlash(name)))
	if err != nil {
		http.Error(w, "not found", 404)
		return
	}
	if corrupt {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	start := 0
	if rg := r.Header.Get("Range"); rg != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || n >= len(data) {
			http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)-start))
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	}
	if stall {
		_, _ = w.Write(data[start : start+(len(data)-start)/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	if cut {
		_, _ = w.Write(data[start : start+(len(data)-start)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // cut the connection mid-body
	}
	_, _ = w.Write(data[start:])
}

// opts returns Options for the fake hub with an isolated cache and environment.
func (f *fakeHub) opts(cache string, env map[string]string) Options {
	if _, ok := env["HOME"]; !ok { // never read the real ~/.cache/huggingface/token
		env = maps.Clone(env)
		if env == nil {
			env = map[string]string{}
		}
		env["HOME"] = f.t.TempDir()
	}
	return Options{
		Getenv:   func(k string) string { return env[k] },
		Client:   f.hub.Client(),
		Endpoint: f.hub.URL,
		CacheDir: cache,
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func bigData(n int, seed byte) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return string(b)
}

var modelRepo = map[string]string{
	"config.json":           `{"model_type":"gpt2"}`,
	"tokenizer.json":        `{"version":"1.0"}`,
	"tokenizer_config.json": `{}`,
	"model.safetensors":     bigData(300_000, 1),
	"pytorch_model.bin":     bigData(1000, 2),
	"README.md":             "# readme",
	"onnx/model.onnx":       "onnx",
}

func TestPullLayoutMatchesHuggingFaceHub(t *testing.T) {
	f := newFakeHub(t)
	repo := f.addRepo("org/model", modelRepo)
	cache := t.TempDir()
	var prog bytes.Buffer
	o := f.opts(cache, nil)
	o.Token = "hf_supersecret"
	o.Progress = &prog
	snap, err := Pull(context.Background(), "org/model", "", o)
	must(t, err)

	rd := filepath.Join(cache, "models--org--model")
	ref, err := os.ReadFile(filepath.Join(rd, "refs", "main"))
	must(t, err)
	if string(ref) != repo.commit || snap.Commit != repo.commit || snap.Revision != "main" {
		t.Fatalf("refs/main = %q, snapshot %+v, want commit %s", ref, snap, repo.commit)
	}
	if want := filepath.Join(rd, "snapshots", repo.commit); snap.Dir != want {
		t.Fatalf("dir %s, want %s", snap.Dir, want)
	}
	wantFiles := []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
	if !slices.Equal(snap.Files, wantFiles) {
		t.Fatalf("files %v, want %v", snap.Files, wantFiles)
	}
	for _, name := range wantFiles {
		data := []byte(modelRepo[name])
		etag := gitSHA1(data)
		if isLFS(name) {
			etag = sha256hex(data)
		}
		ptr := filepath.Join(snap.Dir, name)
		target, err := os.Readlink(ptr)
		must(t, err)
		if target != "../../blobs/"+etag {
			t.Errorf("%s -> %s, want ../../blobs/%s", name, target, etag)
		}
		got, err := os.ReadFile(ptr)
		must(t, err)
		if !bytes.Equal(got, data) {
			t.Errorf("%s: content differs", name)
		}
		if _, err := os.Stat(filepath.Join(cache, ".locks", "models--org--model", etag+".lock")); err != nil {
			t.Errorf("no lock file for %s: %v", name, err)
		}
	}
	for _, skipped := range []string{"pytorch_model.bin", "README.md", "onnx"} {
		if _, err := os.Lstat(filepath.Join(snap.Dir, skipped)); err == nil {
			t.Errorf("%s was fetched", skipped)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(rd, "blobs", "*.incomplete")); len(m) != 0 {
		t.Errorf("left %v", m)
	}
	for _, a := range f.cdnAuth {
		if a != "" {
			t.Errorf("token sent to the CDN host")
		}
	}
	if !slices.Contains(f.hubAuth, "Bearer hf_supersecret") {
		t.Errorf("token not sent to the hub: %q", f.hubAuth)
	}
	if out := prog.String(); !strings.Contains(out, "fetched model.safetensors") || !strings.Contains(out, "/s") ||
		strings.Contains(out, "hf_supersecret") {
		t.Errorf("progress output: %q", out)
	}

	// A second pull lists the revision and fetches nothing.
	f.requests.Store(0)
	_, err = Pull(context.Background(), "org/model", "main", o)
	must(t, err)
	if n := f.requests.Load(); n != 1 {
		t.Errorf("second pull made %d requests, want 1 (the listing)", n)
	}
}

func TestResolveCacheHitMakesNoRequests(t *testing.T) {
	f := newFakeHub(t)
	repo := f.addRepo("org/model", modelRepo)
	cache := t.TempDir()
	o := f.opts(cache, nil)
	dir, err := Resolve(context.Background(), "org/model", o)
	must(t, err)
	f.requests.Store(0)
	for _, arg := range []string{"org/model", "org/model@main", "org/model@" + repo.commit} {
		got, err := Resolve(context.Background(), arg, o)
		must(t, err)
		if got != dir {
			t.Errorf("Resolve(%s) = %s, want %s", arg, got, dir)
		}
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("cache hits made %d requests", n)
	}
	// Through the environment instead of Options.CacheDir.
	o.CacheDir = ""
	for _, env := range []map[string]string{{"HF_HUB_CACHE": cache}, {"HF_HOME": filepath.Dir(cache) + "/x", "HF_HUB_CACHE": cache}} {
		o.Getenv = func(k string) string { return env[k] }
		if got, err := Resolve(context.Background(), "org/model", o); err != nil || got != dir {
			t.Errorf("env %v: %s, %v", env, got, err)
		}
	}
	// A local directory resolves to itself.
	local := t.TempDir()
	if got, err := Resolve(context.Background(), local, o); err != nil || got != local {
		t.Errorf("local dir: %s, %v", got, err)
	}
	if _, err := Resolve(context.Background(), "./no/such/dir", o); err == nil {
		t.Errorf("missing local path resolved")
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("made %d requests", n)
	}
}

func TestCacheDirFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HF_HUB_CACHE": "/c", "HF_HOME": "/h"}, "/c"},
		{map[string]string{"HF_HOME": "/h", "HOME": "/home/u"}, "/h/hub"},
		{map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/home/u"}, "/x/huggingface/hub"},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.cache/huggingface/hub"},
		{map[string]string{"HF_HUB_CACHE": "~/hf", "HOME": "/home/u"}, "/home/u/hf"},
	} {
		if got := CacheDir(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.env, got, tc.want)
		}
	}
}

func TestResumeInterruptedDownload(t *testing.T) {
	f := newFakeHub(t)
	repo := f.addRepo("org/model", modelRepo)
	f.cutOnce["model.safetensors"] = true
	cache := t.TempDir()
	o := f.opts(cache, nil)
	_, err := Pull(context.Background(), "org/model", "main", o)
	if err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("interrupted pull: err = %v", err)
	}
	data := []byte(modelRepo["model.safetensors"])
	blob := filepath.Join(cache, "models--org--model", "blobs", sha256hex(data))
	st, err := os.Stat(blob + ".incomplete")
	if err != nil || st.Size() == 0 || st.Size() >= int64(len(data)) {
		t.Fatalf("partial file: %v, %v", st, err)
	}
	snap, err := Pull(context.Background(), "org/model", "main", o)
	must(t, err)
	if want := fmt.Sprintf("bytes=%d-", st.Size()); !slices.Contains(f.ranges, want) {
		t.Errorf("ranges seen %v, want %s", f.ranges, want)
	}
	got, err := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors"))
	must(t, err)
	if !bytes.Equal(got, data) || snap.Commit != repo.commit {
		t.Errorf("resumed file differs")
	}
	if _, err := os.Stat(blob + ".incomplete"); err == nil {
		t.Errorf(".incomplete left behind")
	}
}

func TestStalledDownloadIsAbandonedThenResumed(t *testing.T) {
	defer func(d time.Duration) { stallTimeout = d }(stallTimeout)
	stallTimeout = 200 * time.Millisecond
	f := newFakeHub(t)
	f.addRepo("org/model", modelRepo)
	f.stall["model.safetensors"] = true
	cache := t.TempDir()
	_, err := Pull(context.Background(), "org/model", "main", f.opts(cache, nil))
	if err == nil || !strings.Contains(err.Error(), "model.safetensors: no data for") {
		t.Fatalf("stalled pull: %v", err)
	}
	f.mu.Lock()
	f.stall = map[string]bool{}
	f.mu.Unlock()
	snap, err := Pull(context.Background(), "org/model", "main", f.opts(cache, nil))
	must(t, err)
	if len(f.ranges) != 1 {
		t.Errorf("ranges %v", f.ranges)
	}
	if b, err := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors")); err != nil || string(b) != modelRepo["model.safetensors"] {
		t.Errorf("resumed file: %v", err)
	}
}

func TestChecksumMismatchLeavesNothing(t *testing.T) {
	f := newFakeHub(t)
	repo := f.addRepo("org/model", modelRepo)
	f.corrupt["model.safetensors"] = true
	cache := t.TempDir()
	_, err := Pull(context.Background(), "org/model", "main", f.opts(cache, nil))
	if err == nil || !strings.Contains(err.Error(), "model.safetensors") || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("err = %v", err)
	}
	rd := filepath.Join(cache, "models--org--model")
	blob := filepath.Join(rd, "blobs", sha256hex([]byte(modelRepo["model.safetensors"])))
	for _, p := range []string{blob, blob + ".incomplete", filepath.Join(rd, "snapshots", repo.commit, "model.safetensors")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}
	if _, err := Resolve(context.Background(), "org/model", Options{CacheDir: cache, Offline: true}); err == nil {
		t.Errorf("an incomplete snapshot resolved")
	}
}

func TestGatedRepoErrorNamesHFTokenNotTheToken(t *testing.T) {
	f := newFakeHub(t)
	f.addRepo("org/gated", modelRepo).token = "hf_right"
	for _, o := range []Options{
		f.opts(t.TempDir(), map[string]string{"HF_TOKEN": "hf_wrongsecret123"}),
		f.opts(t.TempDir(), nil),
	} {
		_, err := Resolve(context.Background(), "org/gated", o)
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 401 {
			t.Fatalf("err = %v", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "HF_TOKEN") || !strings.Contains(msg, "org/gated") || !strings.Contains(msg, "licence") {
			t.Errorf("message %q", msg)
		}
		if strings.Contains(msg, "hf_wrongsecret123") {
			t.Errorf("the token leaked into the error: %q", msg)
		}
	}
	if !slices.Contains(f.hubAuth, "Bearer hf_wrongsecret123") {
		t.Errorf("HF_TOKEN was not sent")
	}
}

func TestNotFound(t *testing.T) {
	f := newFakeHub(t)
	f.addRepo("org/model", modelRepo)
	for _, tc := range []struct{ repo, rev string }{{"org/missing", "main"}, {"org/model", "v9"}} {
		_, err := Pull(context.Background(), tc.repo, tc.rev, f.opts(t.TempDir(), nil))
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 404 ||
			!strings.Contains(err.Error(), tc.repo) || !strings.Contains(err.Error(), tc.rev) {
			t.Errorf("%s@%s: %v", tc.repo, tc.rev, err)
		}
	}
}

func TestOtherStatusNamesURL(t *testing.T) {
	f := newFakeHub(t)
	f.addRepo("org/model", modelRepo)
	f.statuses["config.json"] = 500
	_, err := Pull(context.Background(), "org/model", "main", f.opts(t.TempDir(), nil))
	if err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), f.hub.URL+"/org/model/resolve/") {
		t.Errorf("err = %v", err)
	}
}

func TestPathTraversalRejected(t *testing.T) {
	for _, bad := range []string{"../evil.safetensors", "/etc/passwd.safetensors", "a/../../b.safetensors", `a\..\b.safetensors`, "a//config.json"} {
		f := newFakeHub(t)
		f.addRepo("org/model", modelRepo).extra = []string{bad}
		cache := t.TempDir()
		_, err := Pull(context.Background(), "org/model", "main", f.opts(filepath.Join(cache, "hub"), nil))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("%q: err = %v", bad, err)
		}
		if m, _ := filepath.Glob(filepath.Join(cache, "*")); len(m) != 0 {
			t.Errorf("%q: wrote %v", bad, m)
		}
	}
}

func TestOffline(t *testing.T) {
	f := newFakeHub(t)
	f.addRepo("org/model", modelRepo)
	cache := t.TempDir()
	dir, err := Resolve(context.Background(), "org/model", f.opts(cache, nil))
	must(t, err)
	f.requests.Store(0)
	off := f.opts(cache, map[string]string{"HF_HUB_OFFLINE": "1"})
	got, err := Resolve(context.Background(), "org/model", off)
	if err != nil || got != dir {
		t.Errorf("offline cached: %s, %v", got, err)
	}
	_, err = Resolve(context.Background(), "org/other", off)
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), filepath.Join(cache, "models--org--other")) ||
		!strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("offline uncached: %v", err)
	}
	if _, err := Pull(context.Background(), "org/model", "main", off); !errors.Is(err, ErrOffline) {
		t.Errorf("offline pull: %v", err)
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("offline made %d requests", n)
	}
}

func TestTokenFile(t *testing.T) {
	f := newFakeHub(t)
	f.addRepo("org/private", modelRepo).token = "hf_fromfile"
	home := t.TempDir()
	must(t, os.WriteFile(filepath.Join(home, "token"), []byte("hf_fromfile\n"), 0o600))
	tokPath := filepath.Join(t.TempDir(), "tok")
	must(t, os.WriteFile(tokPath, []byte("hf_fromfile"), 0o600))
	for _, env := range []map[string]string{
		{"HF_HOME": home},
		{"HF_TOKEN_PATH": tokPath, "HF_HOME": t.TempDir()},
		{"HOME": filepath.Dir(filepath.Dir(home)), "XDG_CACHE_HOME": filepath.Dir(home)}, // no file there
	} {
		_, err := Pull(context.Background(), "org/private", "main", f.opts(t.TempDir(), env))
		if _, ok := env["XDG_CACHE_HOME"]; ok {
			if err == nil {
				t.Errorf("%v: pulled without a token", env)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", env, err)
		}
	}
	// HF_TOKEN wins over the file.
	_, err := Pull(context.Background(), "org/private", "main", f.opts(t.TempDir(), map[string]string{"HF_HOME": home, "HF_TOKEN": "hf_env"}))
	if err == nil {
		t.Errorf("HF_TOKEN did not take precedence over the token file")
	}
}

func TestPicklesOnlyWhenIncluded(t *testing.T) {
	f := newFakeHub(t)
	f.addRepo("org/model", modelRepo)
	o := f.opts(t.TempDir(), nil)
	o.Include = []string{"*.bin", "config.json"}
	snap, err := Pull(context.Background(), "org/model", "main", o)
	must(t, err)
	if !slices.Equal(snap.Files, []string{"config.json", "pytorch_model.bin"}) {
		t.Errorf("files %v", snap.Files)
	}
	got, err := os.ReadFile(filepath.Join(snap.Dir, "pytorch_model.bin"))
	if err != nil || string(got) != modelRepo["pytorch_model.bin"] {
		t.Errorf("bin: %v", err)
	}
}

func TestShardedModelSkipsUnindexedSafetensors(t *testing.T) {
	f := newFakeHub(t)
	f.addRepo("org/sharded", map[string]string{
		"config.json":                      `{}`,
		"model.safetensors.index.json":     `{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}}`,
		"model-00001-of-00002.safetensors": bigData(5000, 3),
		"model-00002-of-00002.safetensors": bigData(5000, 4),
		"consolidated.safetensors":         bigData(10000, 5),
	})
	cache := t.TempDir()
	snap, err := Pull(context.Background(), "org/sharded", "main", f.opts(cache, nil))
	must(t, err)
	want := []string{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"}
	if !slices.Equal(snap.Files, want) {
		t.Errorf("files %v, want %v", snap.Files, want)
	}
	// Removing a shard's blob makes the snapshot incomplete for Resolve.
	must(t, os.Remove(filepath.Join(cache, "models--org--sharded", "blobs", sha256hex([]byte(bigData(5000, 4))))))
	if _, err := Resolve(context.Background(), "org/sharded", Options{CacheDir: cache, Offline: true}); err == nil ||
		!strings.Contains(err.Error(), "model-00002-of-00002.safetensors") {
		t.Errorf("incomplete shards: %v", err)
	}
}

var saeRepo = map[string]string{
	// SAELens layout, nested and top-level.
	"blocks.8.hook_resid_pre/cfg.json":                `{"d_in":768}`,
	"blocks.8.hook_resid_pre/sae_weights.safetensors": bigData(4000, 6),
	"blocks.8.hook_resid_pre/sparsity.safetensors":    bigData(100, 7),
	"cfg.json":                `{"d_in":768,"top":true}`,
	"sae_weights.safetensors": bigData(3000, 8),
	// Gemma Scope layout.
	"layer_12/width_16k/average_l0_71/params.npz":  bigData(2000, 9),
	"layer_12/width_16k/average_l0_71/config.json": `{"l0":71}`,
	"layer_5/width_16k/average_l0_10/params.npz":   bigData(2000, 10),
	// Not SAE files.
	"README.md":        "readme",
	"layer_12/junk.pt": "pickle",
}

func TestSAELayoutSelection(t *testing.T) {
	f := newFakeHub(t)
	f.addRepo("org/saes", saeRepo)
	cache := t.TempDir()
	o := f.opts(cache, nil)
	o.Kind = SAE
	snap, err := Pull(context.Background(), "org/saes", "main", o)
	must(t, err)
	want := []string{
		"blocks.8.hook_resid_pre/cfg.json", "blocks.8.hook_resid_pre/sae_weights.safetensors",
		"blocks.8.hook_resid_pre/sparsity.safetensors", "cfg.json",
		"layer_12/width_16k/average_l0_71/config.json", "layer_12/width_16k/average_l0_71/params.npz",
		"layer_5/width_16k/average_l0_10/params.npz", "sae_weights.safetensors",
	}
	if !slices.Equal(snap.Files, want) {
		t.Fatalf("files %v,\nwant %v", snap.Files, want)
	}
	nested := filepath.Join(snap.Dir, "layer_12/width_16k/average_l0_71/params.npz")
	target, err := os.Readlink(nested)
	must(t, err)
	if wantT := "../../../../../blobs/" + sha256hex([]byte(saeRepo["layer_12/width_16k/average_l0_71/params.npz"])); target != wantT {
		t.Errorf("nested link %s, want %s", target, wantT)
	}
	if b, err := os.ReadFile(nested); err != nil || string(b) != saeRepo["layer_12/width_16k/average_l0_71/params.npz"] {
		t.Errorf("nested read: %v", err)
	}

	o = f.opts(t.TempDir(), nil)
	o.Kind = SAE
	o.Include = []string{"layer_12/width_16k/*"}
	snap, err = Pull(context.Background(), "org/saes", "main", o)
	must(t, err)
	want = []string{"layer_12/width_16k/average_l0_71/config.json", "layer_12/width_16k/average_l0_71/params.npz"}
	if !slices.Equal(snap.Files, want) {
		t.Errorf("narrowed files %v, want %v", snap.Files, want)
	}
	f.requests.Store(0)
	if dir, err := Resolve(context.Background(), "org/saes", o); err != nil || dir != snap.Dir || f.requests.Load() != 0 {
		t.Errorf("SAE cache hit: %s, %v, %d requests", dir, err, f.requests.Load())
	}
	o.Include = []string{"layer_99/*"}
	if _, err := Pull(context.Background(), "org/saes", "main", o); err == nil {
		t.Errorf("an include matching nothing succeeded")
	}
}

func TestParseAndGlobHelpers(t *testing.T) {
	for _, tc := range []struct{ arg, repo, rev string }{
		{"org/name", "org/name", "main"}, {"org/name@v1.0", "org/name", "v1.0"}, {"org/n.a-m_e@refs/pr/1", "org/n.a-m_e", "refs/pr/1"},
	} {
		r, v, err := ParseRepoRef(tc.arg)
		if err != nil || r != tc.repo || v != tc.rev {
			t.Errorf("%s: %s %s %v", tc.arg, r, v, err)
		}
	}
	for _, bad := range []string{"name", "a/b/c", "org/name@../x", "org/name@", "../x/y", "org/na--me", "org/name@/abs"} {
		if _, _, err := ParseRepoRef(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	for _, tc := range []struct {
		pat, name string
		ok        bool
	}{
		{"*.bin", "a/b.bin", true}, {"layer_12/width_16k/*", "layer_12/width_16k/x/params.npz", true},
		{"layer_12/", "layer_12/a", true}, {"layer_1?/*", "layer_12/a", true}, {"layer_[!1]*", "layer_12", false},
		{"*.json", "config.jsonx", false}, {"a+b.json", "a+b.json", true},
	} {
		re, err := globRegexp(tc.pat)
		if err != nil || re.MatchString(tc.name) != tc.ok {
			t.Errorf("%s ~ %s: %v %v", tc.pat, tc.name, !tc.ok, err)
		}
	}
}
