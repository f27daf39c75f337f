package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// The cache layout is huggingface_hub's, so that Python tools and steer share one cache:
//
//	<cache>/models--org--name/
//	    refs/<revision>                 the commit hash a branch or tag pointed to
//	    blobs/<etag>                    file contents, named by sha256 (LFS) or git blob sha1
//	    blobs/<etag>.incomplete         a download in progress (resumable)
//	    snapshots/<commit>/<path>       relative symlink to ../../blobs/<etag>
//	<cache>/.locks/models--org--name/<etag>.lock

var (
	commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	repoRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)
	etagRE   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// isCommit reports whether rev is a full commit hash.
func isCommit(rev string) bool { return commitRE.MatchString(rev) }

// validRepoID reports whether id has the org/name form the hub accepts.
func validRepoID(id string) bool {
	return len(id) <= 96 && repoRE.MatchString(id) &&
		!strings.Contains(id, "--") && !strings.Contains(id, "..") && !strings.HasSuffix(id, ".git")
}

// checkRelPath rejects a repository file name (or revision) that could escape the
// directory it is joined to: empty, absolute, with backslashes, NUL, or empty, "." or
// ".." segments.
func checkRelPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.HasPrefix(p, "/") || filepath.IsAbs(p) || (len(p) >= 2 && p[1] == ':'):
		return errors.New("absolute path")
	case strings.ContainsAny(p, "\\\x00"):
		return errors.New("backslash or NUL in path")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errors.New("empty, . or .. path segment")
		}
	}
	return nil
}

// repoCache is one repository's folder in the cache.
type repoCache struct {
	root   string // the hub cache directory
	folder string // models--org--name
}

func newRepoCache(root string, typ RepoType, repo string) repoCache {
	return repoCache{root: root, folder: string(typ) + "s--" + strings.ReplaceAll(repo, "/", "--")}
}

func (rc repoCache) dir() string { return filepath.Join(rc.root, rc.folder) }
func (rc repoCache) refPath(rev string) string {
	return filepath.Join(rc.dir(), "refs", filepath.FromSlash(rev))
}
func (rc repoCache) blobPath(etag string) string {
	return filepath.Join(rc.dir(), "blobs", etag)
}
func (rc repoCache) snapshotDir(commit string) string {
	return filepath.Join(rc.dir(), "snapshots", commit)
}
func (rc repoCache) pointerPath(commit, name string) string {
	return filepath.Join(rc.snapshotDir(commit), filepath.FromSlash(name))
}
func (rc repoCache) lockPath(etag string) string {
	return filepath.Join(rc.root, ".locks", rc.folder, etag+".lock")
}

// commitFor maps a revision to a commit using refs/<rev>; a commit hash maps to itself.
func (rc repoCache) commitFor(rev string) (string, error) {
	if isCommit(rev) {
		return rev, nil
	}
	b, err := os.ReadFile(rc.refPath(rev))
	if err != nil {
		return "", err
	}
	c := strings.TrimSpace(string(b))
	if !isCommit(c) {
		return "", fmt.Errorf("%s does not hold a commit hash", rc.refPath(rev))
	}
	return c, nil
}

// writeRef records that rev points at commit (atomically, like huggingface_hub).
func (rc repoCache) writeRef(rev, commit string) error {
	if rev == commit {
		return nil
	}
	p := rc.refPath(rev)
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := tempName(p)
	if err := os.WriteFile(tmp, []byte(commit), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// link makes snapshots/<commit>/<name> a relative symlink to blobs/<etag>, replacing
// whatever was there atomically.
func (rc repoCache) link(commit, name, etag string) error {
	ptr := rc.pointerPath(commit, name)
	if err := os.MkdirAll(filepath.Dir(ptr), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(ptr), rc.blobPath(etag))
	if err != nil {
		return err
	}
	tmp := tempName(ptr)
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, ptr); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// tempName is a name next to p, unique to this process and call.
func tempName(p string) string {
	return fmt.Sprintf("%s.%d-%x.tmp", p, os.Getpid(), rand.Uint64())
}

// exists reports whether p exists, following symlinks (a dangling link does not count).
func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// incomplete says why a snapshot directory is not usable, or returns nil when it is.
//
// A model snapshot is complete when it has config.json and its weights: every shard named
// in model.safetensors.index.json's weight_map when that index exists, otherwise at least
// one top-level *.safetensors file. Tokenizer files are optional (not every model ships
// them). An SAE snapshot is complete when it holds at least one SAE weights file
// (sae_weights.safetensors, params.npz or params.safetensors) matching the include
// patterns, if any. Files are checked through their symlinks, so a link whose blob was
// deleted counts as missing.
func incomplete(dir string, kind Kind, include []*regexp.Regexp) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("no snapshot directory %s", dir)
	}
	if kind == SAE {
		found := false
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if found {
				return filepath.SkipAll
			}
			if err != nil {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			switch path.Base(rel) {
			case "sae_weights.safetensors", "params.npz", "params.safetensors":
				if (len(include) == 0 || matchAny(include, rel)) && exists(p) {
					found = true
				}
			}
			return nil
		})
		if !found {
			return fmt.Errorf("no SAE weights in %s", dir)
		}
		return nil
	}
	if !exists(filepath.Join(dir, "config.json")) {
		return fmt.Errorf("no config.json in %s", dir)
	}
	idx := filepath.Join(dir, "model.safetensors.index.json")
	if exists(idx) {
		shards, err := indexShards(idx)
		if err != nil {
			return err
		}
		for _, s := range shards {
			if !exists(filepath.Join(dir, filepath.FromSlash(s))) {
				return fmt.Errorf("shard %s missing from %s", s, dir)
			}
		}
		return nil
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	for _, p := range m {
		if exists(p) {
			return nil
		}
	}
	return fmt.Errorf("no *.safetensors weights in %s", dir)
}

// indexShards returns the distinct shard files named in a safetensors index's weight_map.
func indexShards(indexPath string) ([]string, error) {
	b, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("parse %s: %w", indexPath, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range idx.WeightMap {
		if err := checkRelPath(f); err != nil {
			return nil, fmt.Errorf("%s names shard %q: %v", indexPath, f, err)
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out, nil
}
