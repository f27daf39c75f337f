package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
)

// Snapshot describes a repository revision in the cache after Pull.
type Snapshot struct {
	Repo     string   `json:"repo"`
	Revision string   `json:"revision"`
	Commit   string   `json:"commit"`
	Dir      string   `json:"dir"`
	Files    []string `json:"files"`
}

// HTTPError is an unexpected answer from the hub. Its message names the repository (and
// revision or file) or the URL, never the token.
type HTTPError struct {
	StatusCode int
	URL        string // without its query string
	msg        string
}

func (e *HTTPError) Error() string { return e.msg }

// Timeouts, like huggingface_hub's: a metadata request (listing, HEAD) must finish within
// metaTimeout, and a download that receives no byte for stallTimeout is abandoned (its
// partial file stays, so running again resumes it).
var (
	metaTimeout  = 60 * time.Second
	stallTimeout = 60 * time.Second
	errStalled   = errors.New("stalled")
)

// modelFiles are the top-level files a model needs besides *.safetensors.
var modelFiles = map[string]bool{
	"config.json": true, "generation_config.json": true, "tokenizer.json": true,
	"tokenizer_config.json": true, "special_tokens_map.json": true, "tokenizer.model": true,
	"chat_template.jinja": true, "model.safetensors.index.json": true,
}

const indexFile = "model.safetensors.index.json"

// wanted reports whether Pull fetches the repository file name.
func (c *config) wanted(name string) bool {
	switch {
	case c.kind == SAE:
		switch path.Base(name) {
		case "cfg.json", "sae_weights.safetensors", "sparsity.safetensors",
			"params.npz", "params.safetensors", "config.json":
			return len(c.include) == 0 || matchAny(c.include, name)
		}
		return false
	case len(c.include) > 0:
		return matchAny(c.include, name)
	default:
		return !strings.Contains(name, "/") && (modelFiles[name] || strings.HasSuffix(name, ".safetensors"))
	}
}

// Pull downloads the files of repoID at revision (default "main") that Options select
// into the Hugging Face cache and returns the snapshot. Files already in the snapshot
// are not fetched again; a partial download left by an interrupted Pull is resumed.
//
// For a Model without Include, when the repo has model.safetensors.index.json only the
// shards it names are fetched (so consolidated.safetensors duplicates are skipped).
func Pull(ctx context.Context, repoID, revision string, opts Options) (*Snapshot, error) {
	if revision == "" {
		revision = "main"
	}
	if _, _, err := ParseRepoRef(repoID + "@" + revision); err != nil {
		return nil, err
	}
	c, err := opts.config()
	if err != nil {
		return nil, err
	}
	if c.offline {
		return nil, fmt.Errorf("hub: cannot download %s@%s: %w", repoID, revision, ErrOffline)
	}
	return pull(ctx, c, repoID, revision)
}

// puller holds the state of one Pull.
type puller struct {
	*config
	repo, rev, commit string
	token             string
	rc                repoCache
	endpointHost      string
}

func pull(ctx context.Context, c *config, repo, rev string) (*Snapshot, error) {
	eu, err := url.Parse(c.endpoint)
	if err != nil || eu.Host == "" {
		return nil, fmt.Errorf("hub: bad endpoint %q", c.endpoint)
	}
	p := &puller{config: c, repo: repo, rev: rev, token: c.readToken(),
		rc: newRepoCache(c.cache, c.repoType, repo), endpointHost: eu.Host}

	names, err := p.list(ctx)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, n := range names {
		if c.wanted(n) {
			files = append(files, n)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("hub: %s@%s has no files to fetch (of %d in the repo) for this selection", repo, rev, len(names))
	}
	if c.kind == Model && len(c.include) == 0 && slices.Contains(files, indexFile) {
		if err := p.fetchAll(ctx, []string{indexFile}); err != nil {
			return nil, err
		}
		shards, err := indexShards(p.rc.pointerPath(p.commit, indexFile))
		if err != nil {
			return nil, fmt.Errorf("hub: %s: %w", repo, err)
		}
		files = slices.DeleteFunc(files, func(n string) bool {
			return strings.HasSuffix(n, ".safetensors") && !slices.Contains(shards, n)
		})
	}
	if err := p.fetchAll(ctx, files); err != nil {
		return nil, err
	}
	if err := p.rc.writeRef(rev, p.commit); err != nil {
		return nil, fmt.Errorf("hub: write ref: %w", err)
	}
	slices.Sort(files)
	return &Snapshot{Repo: repo, Revision: rev, Commit: p.commit, Dir: p.rc.snapshotDir(p.commit), Files: files}, nil
}

// list asks the hub for the revision's commit and file names, as huggingface_hub's
// repo_info does: GET {endpoint}/api/models/{repo}/revision/{rev}.
func (p *puller) list(ctx context.Context) ([]string, error) {
	u := fmt.Sprintf("%s/api/%ss/%s/revision/%s", p.endpoint, p.repoType, p.repo, url.PathEscape(p.rev))
	ctx, cancel := context.WithTimeout(ctx, metaTimeout)
	defer cancel()
	resp, err := p.do(ctx, http.MethodGet, u, nil, p.client)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, p.statusError(resp, "")
	}
	var info struct {
		SHA      string `json:"sha"`
		Siblings []struct {
			RFilename string `json:"rfilename"`
		} `json:"siblings"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&info); err != nil {
		return nil, fmt.Errorf("hub: %s@%s: bad listing from %s: %v", p.repo, p.rev, redact(u), err)
	}
	if !isCommit(info.SHA) {
		return nil, fmt.Errorf("hub: %s@%s: listing has no commit sha", p.repo, p.rev)
	}
	p.commit = info.SHA
	names := make([]string, 0, len(info.Siblings))
	for _, s := range info.Siblings {
		if err := checkRelPath(s.RFilename); err != nil {
			return nil, fmt.Errorf("hub: %s@%s: listing has unsafe file name %q: %v", p.repo, p.rev, s.RFilename, err)
		}
		names = append(names, s.RFilename)
	}
	return names, nil
}

// fileMeta is what a HEAD on the resolve URL tells about one file.
type fileMeta struct {
	name string
	etag string // sha256 for LFS files, git blob sha1 otherwise
	size int64  // -1 when unknown
	url  string // where to GET the bytes (a CDN after a redirect)
}

// fetchAll brings the named files into the snapshot: a HEAD for each file not yet
// there, then the downloads, each bounded by Workers.
func (p *puller) fetchAll(ctx context.Context, names []string) error {
	var todo []string
	for _, n := range names {
		if !exists(p.rc.pointerPath(p.commit, n)) {
			todo = append(todo, n)
		}
	}
	metas := make([]*fileMeta, len(todo))
	err := parallel(ctx, p.workers, len(todo), func(ctx context.Context, i int) error {
		m, err := p.head(ctx, todo[i])
		if err != nil {
			return err
		}
		if exists(p.rc.blobPath(m.etag)) {
			return p.rc.link(p.commit, m.name, m.etag)
		}
		metas[i] = m
		return nil
	})
	if err != nil {
		return err
	}
	metas = slices.DeleteFunc(metas, func(m *fileMeta) bool { return m == nil })
	if len(metas) == 0 {
		return nil
	}
	var total int64
	for _, m := range metas {
		total += max(m.size, 0)
	}
	prog := newProgress(p.progress, p.repo, len(metas), total)
	defer prog.finish()
	return parallel(ctx, p.workers, len(metas), func(ctx context.Context, i int) error {
		return p.fetch(ctx, metas[i], prog)
	})
}

// head reads a file's metadata like huggingface_hub: HEAD on the resolve URL at the
// commit, following same-host redirects (renamed repos) but not a redirect to another
// host (the CDN), whose Location is where the bytes are.
func (p *puller) head(ctx context.Context, name string) (*fileMeta, error) {
	u := p.fileURL(name)
	ctx, cancel := context.WithTimeout(ctx, metaTimeout)
	defer cancel()
	hc := *p.client
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("too many redirects")
		}
		return nil
	}
	resp, err := p.do(ctx, http.MethodHead, u, nil, &hc)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	m := &fileMeta{name: name, size: -1, url: resp.Request.URL.String()}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc, err := resp.Location()
		if err != nil {
			return nil, fmt.Errorf("hub: %s/%s: redirect without a Location", p.repo, name)
		}
		m.url = loc.String()
	case resp.StatusCode != http.StatusOK:
		return nil, p.statusError(resp, name)
	}
	m.etag = normalizeETag(resp.Header.Get("X-Linked-Etag"))
	if m.etag == "" {
		m.etag = normalizeETag(resp.Header.Get("ETag"))
	}
	if !etagRE.MatchString(m.etag) || m.etag == "." || m.etag == ".." {
		return nil, fmt.Errorf("hub: %s/%s: the hub sent no usable ETag", p.repo, name)
	}
	sz := resp.Header.Get("X-Linked-Size")
	if sz == "" && resp.StatusCode == http.StatusOK {
		sz = resp.Header.Get("Content-Length")
	}
	if n, err := strconv.ParseInt(sz, 10, 64); err == nil && n >= 0 {
		m.size = n
	}
	return m, nil
}

func (p *puller) fileURL(name string) string {
	prefix := p.endpoint
	if p.repoType != RepoModel {
		prefix += "/" + string(p.repoType) + "s"
	}
	esc := strings.Split(name, "/")
	for i, s := range esc {
		esc[i] = url.PathEscape(s)
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", prefix, p.repo, p.commit, strings.Join(esc, "/"))
}

// normalizeETag strips the weak prefix and quotes: W/"abc" -> abc.
func normalizeETag(e string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(e), "W/"), `"`)
}

// fetch downloads one blob under its lock into blobs/<etag>.incomplete, resuming a
// partial file with a Range request, verifies it, renames it into place and links it.
func (p *puller) fetch(ctx context.Context, m *fileMeta, prog *progress) error {
	blob := p.rc.blobPath(m.etag)
	lockPath := p.rc.lockPath(m.etag)
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	lk := flock.New(lockPath)
	if _, err := lk.TryLockContext(ctx, 100*time.Millisecond); err != nil {
		return fmt.Errorf("hub: lock %s: %w", lockPath, err)
	}
	defer lk.Unlock()
	if !exists(blob) { // another process may have finished it while we waited
		if err := p.download(ctx, m, blob+".incomplete", prog); err != nil {
			return err
		}
		if err := os.Rename(blob+".incomplete", blob); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
	}
	prog.fileDone(m.name)
	if err := p.rc.link(p.commit, m.name, m.etag); err != nil {
		return fmt.Errorf("hub: link %s: %w", m.name, err)
	}
	return nil
}

func (p *puller) download(ctx context.Context, m *fileMeta, inc string, prog *progress) (err error) {
	f, err := os.OpenFile(inc, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("hub: %w", cerr)
		}
	}()
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if m.size >= 0 && off > m.size {
		if err := restart(f); err != nil {
			return err
		}
		off = 0
	}
	if m.size < 0 || off < m.size {
		if err := p.get(ctx, m, f, off, prog); err != nil {
			return err
		}
	} else {
		prog.resumed(off)
	}
	if err := verify(f, m); err != nil {
		f.Close()
		os.Remove(inc)
		return fmt.Errorf("hub: %s/%s: %v; the partial download was deleted", p.repo, m.name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

func restart(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// get appends the bytes from off onwards to f.
func (p *puller) get(ctx context.Context, m *fileMeta, f *os.File, off int64, prog *progress) error {
	hdr := http.Header{}
	if off > 0 {
		hdr.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	defer timer.Stop()
	stalled := func() error {
		return fmt.Errorf("hub: %s/%s: no data for %v (run again to resume)", p.repo, m.name, stallTimeout)
	}
	resp, err := p.do(ctx, http.MethodGet, m.url, hdr, p.client)
	if err != nil {
		if errors.Is(context.Cause(ctx), errStalled) {
			return stalled()
		}
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", off)) {
			return fmt.Errorf("hub: %s/%s: server resumed at the wrong offset (%s)", p.repo, m.name, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK:
		if off > 0 { // the server ignored the Range: start again
			if err := restart(f); err != nil {
				return err
			}
			off = 0
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && off > 0:
		prog.resumed(off)
		return nil // the partial may be whole already; verify decides
	default:
		return p.statusError(resp, m.name)
	}
	prog.resumed(off)
	var body io.Reader = &stallReader{r: resp.Body, t: timer}
	if m.size >= 0 {
		body = io.LimitReader(body, m.size-off+1) // one byte over is enough to fail verify
	}
	if _, err := io.Copy(io.MultiWriter(f, prog), body); err != nil {
		if errors.Is(context.Cause(ctx), errStalled) {
			return stalled()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("hub: %s/%s: download interrupted (run again to resume): %v", p.repo, m.name, err)
	}
	return nil
}

// stallReader pushes back the stall timer on every read.
type stallReader struct {
	r io.Reader
	t *time.Timer
}

func (s *stallReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	s.t.Reset(stallTimeout)
	return n, err
}

// verify checks the downloaded size and, when the etag is a sha256 (LFS files) or a git
// blob sha1 (small files), the checksum. Other etags (non-hub mirrors) are size-checked only.
func verify(f *os.File, m *fileMeta) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if m.size >= 0 && st.Size() != m.size {
		return fmt.Errorf("size mismatch: got %d bytes, want %d", st.Size(), m.size)
	}
	var h hash.Hash
	switch {
	case sha256RE.MatchString(m.etag):
		h = sha256.New()
	case isCommit(m.etag): // 40 hex: git blob sha1
		h = sha1.New()
		fmt.Fprintf(h, "blob %d\x00", st.Size())
	default:
		return nil
	}
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.etag {
		return fmt.Errorf("checksum mismatch: got %s, want %s", got, m.etag)
	}
	return nil
}

// do sends a request with the hub's headers. The token goes only to the endpoint's host
// (Go's client also drops it on redirects to other hosts). Transport errors are
// reported without the URL's query string (CDN URLs carry signatures).
func (p *puller) do(ctx context.Context, method, u string, hdr http.Header, hc *http.Client) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub: bad URL %s", redact(u))
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "steer/hub")
	req.Header.Set("Accept-Encoding", "identity")
	if p.token != "" && req.URL.Host == p.endpointHost {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("hub: %s %s: %v", method, redact(u), err)
	}
	return resp, nil
}

// statusError turns a failed response into an HTTPError naming the repo, like
// huggingface_hub's error classes (using the hub's X-Error-Code when present).
func (p *puller) statusError(resp *http.Response, file string) error {
	u := redact(resp.Request.URL.String())
	what := p.repo + "@" + p.rev
	if file != "" {
		what = p.repo + "/" + file
	}
	code := resp.Header.Get("X-Error-Code")
	var msg string
	switch {
	case code == "GatedRepo" || ((resp.StatusCode == 401 || resp.StatusCode == 403) && code != "RepoNotFound"):
		msg = fmt.Sprintf("hub: access to %s denied (HTTP %d): set HF_TOKEN (or run `huggingface-cli login`) "+
			"with a token that can read it, and for a gated repo accept its licence at %s/%s",
			p.repo, resp.StatusCode, p.endpoint, p.repo)
	case code == "RevisionNotFound":
		msg = fmt.Sprintf("hub: revision %s not found in repository %s (HTTP %d)", p.rev, p.repo, resp.StatusCode)
	case code == "EntryNotFound":
		msg = fmt.Sprintf("hub: file %s not found in %s@%s (HTTP %d)", file, p.repo, p.rev, resp.StatusCode)
	case resp.StatusCode == 404 && file != "" && code == "":
		msg = fmt.Sprintf("hub: file %s not found in %s@%s (HTTP 404)", file, p.repo, p.rev)
	case resp.StatusCode == 404 || code == "RepoNotFound":
		msg = fmt.Sprintf("hub: repository %s or revision %s not found on %s (HTTP %d); "+
			"for a private repo set HF_TOKEN", p.repo, p.rev, p.endpoint, resp.StatusCode)
	default:
		msg = fmt.Sprintf("hub: %s: %s %s: HTTP %s", what, resp.Request.Method, u, resp.Status)
	}
	return &HTTPError{StatusCode: resp.StatusCode, URL: u, msg: msg}
}

// redact drops a URL's query and fragment (signed CDN URLs carry credentials there).
func redact(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// parallel runs fn(ctx, i) for i in [0,n) with at most workers at once; the first error
// cancels the others and is returned.
func parallel(ctx context.Context, workers, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	sem := make(chan struct{}, workers)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// progress shows bytes, rate and ETA on a writer: one line redrawn in place on a
// terminal, plain lines (periodic totals and one per finished file) otherwise.
type progress struct {
	w            io.Writer
	tty          bool
	label        string
	files, total int64
	done, base   atomic.Int64 // bytes on disk; bytes that were there before (resumed)
	nfiles       atomic.Int64
	start        time.Time
	mu           sync.Mutex
	stop         chan struct{}
	stopped      chan struct{}
}

func newProgress(w io.Writer, label string, files int, total int64) *progress {
	p := &progress{w: w, label: label, files: int64(files), total: total, start: time.Now(),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	every := 5 * time.Second
	if p.tty {
		every = 250 * time.Millisecond
	}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.print(false)
			}
		}
	}()
	return p
}

func (p *progress) Write(b []byte) (int, error) { p.done.Add(int64(len(b))); return len(b), nil }

// resumed counts bytes already present from an earlier, interrupted download.
func (p *progress) resumed(n int64) { p.done.Add(n); p.base.Add(n) }

func (p *progress) fileDone(name string) {
	p.nfiles.Add(1)
	if !p.tty {
		p.mu.Lock()
		fmt.Fprintf(p.w, "%s: fetched %s\n", p.label, name)
		p.mu.Unlock()
	}
}

func (p *progress) finish() {
	close(p.stop)
	<-p.stopped
	p.print(true)
}

func (p *progress) print(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done, base := p.done.Load(), p.base.Load()
	el := time.Since(p.start).Seconds()
	rate := float64(done-base) / max(el, 1e-3)
	line := fmt.Sprintf("%s: %d/%d files, %s / %s", p.label, p.nfiles.Load(), p.files, human(done), human(p.total))
	if p.total > 0 {
		line += fmt.Sprintf(" (%d%%)", done*100/p.total)
	}
	line += fmt.Sprintf(", %s/s", human(int64(rate)))
	if final {
		line += fmt.Sprintf(", %.1fs", el)
	} else if rate > 0 && p.total > done {
		line += ", ETA " + time.Duration(float64(p.total-done)/rate*float64(time.Second)).Round(time.Second).String()
	}
	if p.tty {
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(p.w, "\r%s\x1b[K%s", line, end)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// human formats a byte count in decimal units (MB = 10^6 bytes, as the hub shows sizes).
func human(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}
