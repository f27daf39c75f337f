// Package hub finds models and SAEs in the Hugging Face cache by repo id and downloads
// what is missing through the Hub's HTTP API, the way huggingface_hub does: same
// environment variables (HF_HUB_CACHE, HF_HOME, HF_ENDPOINT, HF_TOKEN, HF_TOKEN_PATH,
// HF_HUB_OFFLINE), same cache layout (refs/, blobs/, snapshots/ with relative symlinks,
// .incomplete files, .locks/), so that Python tools reuse what steer downloaded and
// the other way round.
//
// Library code never writes to stdout; progress goes to Options.Progress.
package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Kind selects which files of a repository are wanted.
type Kind int

const (
	// Model fetches config, tokenizer and safetensors weights files (never pickles).
	Model Kind = iota
	// SAE fetches the SAELens (cfg.json, sae_weights.safetensors, sparsity.safetensors)
	// and Gemma Scope (params.npz, params.safetensors, config.json) files, at any depth.
	SAE
)

// RepoType is the hub's repository type.
type RepoType string

const (
	RepoModel   RepoType = "model"
	RepoDataset RepoType = "dataset"
)

// DefaultEndpoint is used when neither Options.Endpoint nor HF_ENDPOINT is set.
const DefaultEndpoint = "https://huggingface.co"

// ErrOffline is wrapped by errors caused by offline mode (HF_HUB_OFFLINE=1).
var ErrOffline = errors.New("offline mode is on (HF_HUB_OFFLINE=1)")

// Options configure Resolve and Pull. The zero value reads the process environment and
// uses http.DefaultClient.
type Options struct {
	// Getenv reads environment variables; nil means os.Getenv. Tests inject a map.
	Getenv func(string) string
	// Client makes the HTTP requests; nil means http.DefaultClient.
	Client *http.Client
	// Endpoint overrides HF_ENDPOINT (default https://huggingface.co).
	Endpoint string
	// Token overrides HF_TOKEN and the token file. It is sent as a Bearer token to the
	// endpoint's host only and never appears in output or errors.
	Token string
	// CacheDir overrides HF_HUB_CACHE / HF_HOME.
	CacheDir string
	// Offline forces offline mode, as HF_HUB_OFFLINE=1 does.
	Offline bool
	// Progress receives the download progress display; nil means none.
	Progress io.Writer
	// RepoType is RepoModel (the default) or RepoDataset.
	RepoType RepoType
	// Kind selects the files Pull fetches (Model or SAE).
	Kind Kind
	// Include, when set, selects files by glob ("*" also matches "/", a trailing "/"
	// means the whole folder, as in huggingface_hub's allow_patterns). For Model it
	// replaces the default selection (so "*.bin" fetches pickles); for SAE it narrows it.
	Include []string
	// Workers bounds parallel file fetches; 0 means 4.
	Workers int
}

// config is Options with the environment applied.
type config struct {
	getenv   func(string) string
	client   *http.Client
	endpoint string
	cache    string
	offline  bool
	progress io.Writer
	repoType RepoType
	kind     Kind
	include  []*regexp.Regexp
	workers  int
	token    string
}

func (o Options) config() (*config, error) {
	c := &config{getenv: o.Getenv, client: o.Client, endpoint: o.Endpoint, cache: o.CacheDir,
		offline: o.Offline, progress: o.Progress, repoType: o.RepoType, kind: o.Kind, workers: o.Workers, token: o.Token}
	if c.getenv == nil {
		c.getenv = os.Getenv
	}
	if c.client == nil {
		c.client = http.DefaultClient
	}
	if c.endpoint == "" {
		c.endpoint = c.getenv("HF_ENDPOINT")
	}
	if c.endpoint == "" {
		c.endpoint = DefaultEndpoint
	}
	c.endpoint = strings.TrimRight(c.endpoint, "/")
	if c.cache == "" {
		c.cache = cacheDir(c.getenv)
	}
	c.offline = c.offline || isTrue(c.getenv("HF_HUB_OFFLINE")) || isTrue(c.getenv("TRANSFORMERS_OFFLINE"))
	if c.progress == nil {
		c.progress = io.Discard
	}
	switch c.repoType {
	case "":
		c.repoType = RepoModel
	case RepoModel, RepoDataset:
	default:
		return nil, fmt.Errorf("hub: unsupported repo type %q", c.repoType)
	}
	if c.workers <= 0 {
		c.workers = 4
	}
	for _, p := range o.Include {
		re, err := globRegexp(p)
		if err != nil {
			return nil, fmt.Errorf("hub: bad include pattern %q: %v", p, err)
		}
		c.include = append(c.include, re)
	}
	return c, nil
}

func isTrue(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

func expandHome(p string, getenv func(string) string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(getenv), p[1:])
	}
	return p
}

func homeDir(getenv func(string) string) string {
	if h := getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// hfHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func hfHome(getenv func(string) string) string {
	if h := getenv("HF_HOME"); h != "" {
		return expandHome(h, getenv)
	}
	if x := getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(expandHome(x, getenv), "huggingface")
	}
	return filepath.Join(homeDir(getenv), ".cache", "huggingface")
}

// cacheDir is $HF_HUB_CACHE (or the legacy HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub.
func cacheDir(getenv func(string) string) string {
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := getenv(k); d != "" {
			return expandHome(d, getenv)
		}
	}
	return filepath.Join(hfHome(getenv), "hub")
}

// CacheDir returns the hub cache directory the environment selects (getenv nil means
// os.Getenv): HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
func CacheDir(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	return cacheDir(getenv)
}

// readToken returns the token: Options.Token, else HF_TOKEN (or the legacy
// HUGGING_FACE_HUB_TOKEN), else the file the HF CLI writes (HF_TOKEN_PATH, else
// $HF_HOME/token). An unreadable or absent file means no token.
func (c *config) readToken() string {
	if c.token != "" {
		return c.token
	}
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(c.getenv(k)); t != "" {
			return t
		}
	}
	p := c.getenv("HF_TOKEN_PATH")
	if p == "" {
		p = filepath.Join(hfHome(c.getenv), "token")
	}
	b, err := os.ReadFile(expandHome(p, c.getenv))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ParseRepoRef splits "org/name[@revision]" into the repo id and the revision ("main"
// when absent), and validates both.
func ParseRepoRef(arg string) (repo, revision string, err error) {
	repo, revision, found := strings.Cut(arg, "@")
	if !found {
		revision = "main"
	}
	if !validRepoID(repo) {
		return "", "", fmt.Errorf("hub: %q is not a repo id of the form org/name[@revision]", arg)
	}
	if err := checkRelPath(revision); err != nil {
		return "", "", fmt.Errorf("hub: bad revision %q: %v", revision, err)
	}
	return repo, revision, nil
}

// Resolve turns a model or SAE argument into a local directory:
//
//  1. an existing local path is returned as is;
//  2. "org/name[@revision]" (revision default "main", a branch, tag or 40-hex commit) is
//     looked up in the Hugging Face cache; a complete snapshot (see below) is returned
//     without any network access;
//  3. otherwise it is downloaded with Pull, unless offline mode is on (HF_HUB_OFFLINE=1
//     or Options.Offline), which gives an error wrapping ErrOffline.
//
// A model snapshot is complete when it has config.json and its safetensors weights
// (every shard named by model.safetensors.index.json when present, else at least one
// top-level *.safetensors); an SAE snapshot when it has at least one
// sae_weights.safetensors, params.npz or params.safetensors matching Options.Include.
// A cached snapshot is used as is: `steer pull` refreshes a branch from the hub.
func Resolve(ctx context.Context, arg string, opts Options) (string, error) {
	if _, err := os.Stat(arg); err == nil {
		return arg, nil
	}
	if strings.HasPrefix(arg, ".") || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, "~") || filepath.IsAbs(arg) {
		return "", fmt.Errorf("hub: %s: no such file or directory", arg)
	}
	repo, rev, err := ParseRepoRef(arg)
	if err != nil {
		return "", fmt.Errorf("hub: %s is not a local path, and not a repo id of the form org/name[@revision]", arg)
	}
	c, err := opts.config()
	if err != nil {
		return "", err
	}
	rc := newRepoCache(c.cache, c.repoType, repo)
	why := fmt.Errorf("not in the Hugging Face cache at %s", rc.dir())
	if commit, err := rc.commitFor(rev); err == nil {
		dir := rc.snapshotDir(commit)
		if why = incomplete(dir, c.kind, c.include); why == nil {
			return dir, nil
		}
	}
	if c.offline {
		return "", fmt.Errorf("hub: %s@%s is %v, and %w", repo, rev, why, ErrOffline)
	}
	snap, err := pull(ctx, c, repo, rev)
	if err != nil {
		return "", err
	}
	return snap.Dir, nil
}

// globRegexp translates an fnmatch pattern: "*" matches any run of characters
// including "/", "?" one character, "[...]" a class ("[!...]" negated); a trailing "/"
// matches everything under that folder.
func globRegexp(p string) (*regexp.Regexp, error) {
	if strings.HasSuffix(p, "/") {
		p += "*"
	}
	var b strings.Builder
	b.WriteString("(?s)^")
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := i + 1
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				b.WriteString(`\[`)
				continue
			}
			class := string(rs[i+1 : j])
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

func matchAny(res []*regexp.Regexp, name string) bool {
	for _, re := range res {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}
