package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestMain lets the tests run this binary as the steer command in a child process (STEER_CLI_CHILD=1), so a
// test can kill a real run with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("STEER_CLI_CHILD") == "1" {
		os.Exit(run(os.Args[1:], newIOStreams()))
	}
	os.Exit(m.Run())
}

// TestSAETrainResumeAfterKill9: a `steer sae train` on the fly is killed with SIGKILL after some periodic
// checkpoints, then `--resume` finishes it; the SAE is bit-identical to an uninterrupted run's, no
// temporary file is left in the run directory, and a second run on a directory in use is refused.
func TestSAETrainResumeAfterKill9(t *testing.T) {
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"sae", "train", "--site", "resid_post.2", "--context", "32", "--tokens", "12288", "--batch", "256",
			"--width", "96", "--k", "8", "--buffer", "1024", "--checkpoint-every", "4", "--seed", "3", "--out", out}
	}
	full := filepath.Join(dir, "full")
	if code, _, stderr := runCLI(t, "", args(full)...); code != 0 {
		t.Fatalf("uninterrupted run: exit %d: %s", code, stderr)
	}

	killed := filepath.Join(dir, "killed")
	cmd := exec.Command(os.Args[0], args(killed)...)
	cmd.Env = append(os.Environ(), "STEER_CLI_CHILD=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	step := regexp.MustCompile(`^step (\d+)/48`)
	sc := bufio.NewScanner(stderr)
	var log bytes.Buffer
	reached := 0
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if m := step.FindStringSubmatch(sc.Text()); m != nil {
			reached, _ = strconv.Atoi(m[1])
			if reached >= 20 { // checkpoints at 4, 8, ..., 20 are written (or being written)
				cmd.Process.Kill() // SIGKILL
				break
			}
		}
	}
	cmd.Wait()
	if reached < 20 {
		t.Fatalf("the child run ended before step 20:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(killed, "run", "checkpoint.safetensors")); err != nil {
		t.Fatalf("no checkpoint after the kill: %v", err)
	}
	if _, err := os.Stat(filepath.Join(killed, "sae_weights.safetensors")); err == nil {
		t.Fatal("the killed run wrote a final SAE")
	}
	// without --resume the existing checkpoint is not overwritten
	if code, _, stderr := runCLI(t, "", args(killed)...); code == 0 || !bytes.Contains([]byte(stderr), []byte("already has a checkpoint")) {
		t.Fatalf("a second run without --resume: exit %d: %s", code, stderr)
	}
	start := time.Now()
	code, _, errOut := runCLI(t, "", append(args(killed), "--resume")...)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errOut)
	}
	t.Logf("killed at step %d, resumed in %v", reached, time.Since(start).Round(time.Millisecond))
	for _, f := range []string{"sae_weights.safetensors", "sparsity.safetensors"} {
		a, err1 := os.ReadFile(filepath.Join(full, f))
		b, err2 := os.ReadFile(filepath.Join(killed, f))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s differs between the uninterrupted and the killed+resumed run (%v %v)", f, err1, err2)
		}
	}
	for _, d := range []string{killed, filepath.Join(killed, "run"), filepath.Join(killed, "run", "final")} {
		tmp, _ := filepath.Glob(filepath.Join(d, ".*.tmp-*"))
		if len(tmp) > 0 {
			t.Errorf("temporary files left behind: %v", tmp)
		}
	}
}
