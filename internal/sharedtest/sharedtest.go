// Package sharedtest locates the project's reference data in ../shared for tests.
//
// The references (HF transformers/tokenizers outputs, corpus, fixtures) live outside the
// repository. A test that needs one calls Path: when ../shared is absent the test is skipped
// with a message on a developer's laptop, but fails under CI (CI=true), where the
// references must be present, so a check can never silently disappear there.
package sharedtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root returns the shared directory: $STEER_SHARED if set, else <repo>/../shared.
func Root() string {
	if d := os.Getenv("STEER_SHARED"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	return filepath.Join(filepath.Dir(repo), "shared")
}

// RepoRoot returns the repository root.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// Path returns Root()/rel, skipping (or failing under CI) when it does not exist.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(Root(), rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("reference data %s is missing (CI must have ../shared): %v", p, err)
		}
		tb.Skipf("reference data %s not present (no ../shared); this check runs in CI", p)
	}
	return p
}

// Env returns the environment variable name, which a test needs (e.g. the path of a Python with
// sae-lens). When it is unset the test is skipped on a developer's machine and fails under CI,
// where `make test` always sets it.
func Env(tb testing.TB, name, how string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set (CI runs this check through `make test`): %s", name, how)
		}
		tb.Skipf("%s not set: %s", name, how)
	}
	return v
}
