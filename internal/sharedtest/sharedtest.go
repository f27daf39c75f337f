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
