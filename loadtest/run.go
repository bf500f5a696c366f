// Package loadtest is an open-loop load harness for a running Pentographer
// server. It is a client of the public HTTP API only (GraphQL and the token
// endpoint), like any operator's tool: it sends a mixed workload at a constant
// arrival rate with vegeta, probes every credential it creates and revokes, and
// reports latency per operation, errors by class, lost acknowledged writes,
// stale accepts and the server's memory.
package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Defaults of the command line.
const (
	DefaultRate        = 300
	DefaultDuration    = 10 * time.Minute
	DefaultTimeout     = 10 * time.Second
	DefaultMaxWorkers  = 1000
	DefaultReadKeys    = 4
	DefaultTokenPool   = 16
	DefaultProbeDelay  = time.Second
	DefaultClientEvery = 15 * time.Second
)

// DefaultCreateRate is the server's default PTG_CREATE_RATE (credentials a
// person may create per minute); the harness warns when its mix needs more.
const DefaultCreateRate = 60

// Config is one run's settings.
type Config struct {
	URL      string        // the server's base URL
	Key      string        // a ptg_ key of the person the harness acts as (an OWNER's, usually)
	Rate     float64       // paced requests per second
	Duration time.Duration // of the timed run
	Mix      Mix
	// ServerPID, when set, is the server process whose RSS is sampled each second.
	ServerPID  int
	Timeout    time.Duration // per request
	MaxWorkers uint64        // vegeta's cap on concurrent paced requests
	ReadKeys   int           // API keys key_read cycles through
	TokenPool  int           // access tokens token_read cycles through
	// ProbeDelay is how long after its creation (or revocation) a key is
	// probed the second time.
	ProbeDelay time.Duration
	// ClientEvery is the period of the OAuth client cycle (0: off).
	ClientEvery time.Duration
	Thresholds  Thresholds
	// Log receives progress lines (nil: none). Nothing secret is written to it.
	Log io.Writer
	// Client sends every request (nil: a keep-alive client with Timeout).
	Client *http.Client
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Mix == nil {
		c.Mix = DefaultMix()
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxWorkers == 0 {
		c.MaxWorkers = DefaultMaxWorkers
	}
	if c.ReadKeys == 0 {
		c.ReadKeys = DefaultReadKeys
	}
	if c.TokenPool == 0 {
		c.TokenPool = DefaultTokenPool
	}
	if c.ProbeDelay == 0 {
		c.ProbeDelay = DefaultProbeDelay
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Validate reports the first setting that cannot work (zero fields count as
// their defaults).
func (c Config) Validate() error { return c.withDefaults().validate() }

func (c Config) validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.RawQuery != "" {
		return fmt.Errorf("--url must be an http(s) base URL such as http://127.0.0.1:8080, got %q", c.URL)
	}
	if !strings.HasPrefix(c.Key, "ptg_") {
		return errors.New("--key (or PTG_LOAD_KEY) must be a ptg_ API key")
	}
	switch {
	case c.Rate < 0.1 || c.Rate > 100000 || math.IsNaN(c.Rate):
		return fmt.Errorf("--rate must be between 0.1 and 100000 requests/s, got %v", c.Rate)
	case c.Duration < time.Second:
		return fmt.Errorf("--duration must be at least 1s, got %v", c.Duration)
	case c.Timeout < 10*time.Millisecond:
		return fmt.Errorf("--timeout must be at least 10ms, got %v", c.Timeout)
	case c.ReadKeys < 1 || c.ReadKeys > 50:
		return fmt.Errorf("--read-keys must be between 1 and 50, got %d", c.ReadKeys)
	case c.TokenPool < 1 || c.TokenPool > 10000:
		return fmt.Errorf("--tokens must be between 1 and 10000, got %d", c.TokenPool)
	case c.ProbeDelay < 0 || c.ProbeDelay > time.Minute:
		return fmt.Errorf("--probe-delay must be between 0 and 1m, got %v", c.ProbeDelay)
	case c.ClientEvery < 0 || (c.ClientEvery > 0 && c.ClientEvery < time.Second):
		return fmt.Errorf("--client-every must be 0 (off) or at least 1s, got %v", c.ClientEvery)
	case c.ServerPID < 0:
		return fmt.Errorf("--server-pid must be a process id, got %d", c.ServerPID)
	}
	return nil
}

// CreationsPerMinute estimates how many credentials a minute the run creates as
// one person: paced key_create plus the client cycle.
func (c Config) CreationsPerMinute() float64 {
	n := c.Rate * c.Mix.Share(OpKeyCreate) * 60
	if c.ClientEvery > 0 {
		n += float64(time.Minute) / float64(c.ClientEvery)
	}
	return round3(n)
}

// harness is one run.
type harness struct {
	cfg    Config
	api    *api
	bg     context.Context // for probes and cleanup: they finish after an interrupt
	rec    *recorder
	prefix string // names of everything the run creates start with it
	sched  *scheduler

	fixtures  *keyPool // the read keys, created by the setup
	readKeys  []*harnessKey
	client    *harnessClient // the fixture client of token_request
	keys      *keyPool
	tokens    *tokenPool
	clientsMu sync.Mutex
	clients   []*harnessClient // every client the run created, fixture first
	seq       atomic.Int64     // numbers created keys' names
	readSeq   atomic.Uint64    // turns through the read keys

	probes sync.WaitGroup

	// Prepared parts of the paced requests.
	viewerBody  []byte
	readHeaders []http.Header
	tokenHeader http.Header
	ownerHeader http.Header
}

// harnessClient is an OAuth client the harness created.
type harnessClient struct {
	id, clientID, secret string
	revoked              bool
}

// Run performs a whole run: setup, the timed run, cleanup, and the final sweep
// of the listings. The error is for a run that could not start (bad flags, the
// server unreachable, the key refused); a run that started returns its report,
// even when interrupted through ctx.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hc := cfg.Client
	if hc == nil {
		hc = newHTTPClient(cfg.Timeout)
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	h := &harness{
		cfg: cfg, api: &api{base: strings.TrimRight(cfg.URL, "/"), hc: hc}, bg: context.WithoutCancel(ctx),
		prefix: "ptg-load " + hex.EncodeToString(id[:]), sched: newScheduler(cfg.Mix),
		keys: newKeyPool(), tokens: newTokenPool(cfg.TokenPool),
		viewerBody: graphqlBody(queryViewer, nil),
	}
	started := time.Now()

	var sampler *rssSampler
	samplerCtx, stopSampler := context.WithCancel(context.Background())
	defer stopSampler()
	if cfg.ServerPID > 0 {
		sampler = &rssSampler{pid: cfg.ServerPID}
		if _, err := readStatus(cfg.ServerPID); err != nil {
			return nil, err
		}
		sampler.sample()
		go sampler.run(samplerCtx, time.Second)
	}
	if perMin := cfg.CreationsPerMinute(); perMin > DefaultCreateRate*0.9 {
		h.logf("note: this mix creates about %.0f credentials a minute as one person; a server with the default "+
			"PTG_CREATE_RATE=%d will answer RATE_LIMITED (reported as its own class): raise it on the server under test",
			perMin, DefaultCreateRate)
	}
	if err := h.setup(ctx); err != nil {
		// Remove what the setup made before giving up.
		h.rec = newRecorder(time.Now())
		h.cleanup()
		return nil, err
	}

	start := time.Now()
	h.rec = newRecorder(start)
	elapsed := h.attack(ctx, start)
	interrupted := ctx.Err() != nil && elapsed < cfg.Duration
	h.probes.Wait()
	h.logf("timed run done after %.1fs; revoking what the run created", elapsed.Seconds())
	h.cleanup()
	h.sweep()
	h.probes.Wait()

	rep := h.rec.report(elapsed)
	rep.Target, rep.StartedAt, rep.Mix = h.api.base, started.UTC(), cfg.Mix.String()
	rep.Rate.Target, rep.Interrupted = cfg.Rate, interrupted
	rep.Settings = Settings{
		ProbeDelayMS: ms(cfg.ProbeDelay), ClientEveryS: cfg.ClientEvery.Seconds(), ReadKeys: cfg.ReadKeys,
		TokenPool: cfg.TokenPool, TimeoutMS: ms(cfg.Timeout), MaxP99MS: ms(cfg.Thresholds.MaxP99),
		MaxRSSMB: cfg.Thresholds.MaxRSSMB, CreatesPerMin: cfg.CreationsPerMinute(),
	}
	if sampler != nil {
		sampler.sample()
		stopSampler()
		rss, err := sampler.report(start)
		rep.RSS = rss
		if err != nil {
			h.logf("warning: %v", err)
		}
	}
	rep.judge(cfg.Thresholds)
	return &rep, nil
}

func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 5 * time.Second,
		},
		// An API answer is never a redirect; follow none.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.cfg.Log, "ptg-load: "+format+"\n", args...)
}

// later runs fn after d on its own goroutine; Run waits for it.
func (h *harness) later(d time.Duration, fn func()) {
	h.probes.Add(1)
	go func() {
		defer h.probes.Done()
		time.Sleep(d)
		fn()
	}()
}

// now runs fn at once on its own goroutine; Run waits for it.
func (h *harness) now(fn func()) { h.later(0, fn) }

// attack runs the paced requests from start for the configured duration (or
// until ctx ends) and returns how long they ran.
func (h *harness) attack(ctx context.Context, start time.Time) time.Duration {
	atk := vegeta.NewAttacker(vegeta.Client(h.api.hc), vegeta.Workers(8), vegeta.MaxWorkers(h.cfg.MaxWorkers),
		vegeta.MaxBody(maxBody))
	// Freq per Per carries a fractional rate exactly enough: 0.1 → 100 per 1000s.
	pacer := vegeta.ConstantPacer{Freq: int(math.Round(h.cfg.Rate * 1000)), Per: 1000 * time.Second}

	cycleCtx, stopCycle := context.WithCancel(ctx)
	var cycleDone sync.WaitGroup
	if h.cfg.ClientEvery > 0 {
		cycleDone.Add(1)
		go func() {
			defer cycleDone.Done()
			h.clientCycles(cycleCtx)
		}()
	}
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	h.logf("timed run: %.4g requests/s for %v, mix %s", h.cfg.Rate, h.cfg.Duration, h.cfg.Mix)
	nextLog := start.Add(10 * time.Second)
	for res := range atk.Attack(vegeta.Targeter(h.target), pacer, h.cfg.Duration, "ptg-load") {
		h.handle(res)
		if now := time.Now(); now.After(nextLog) {
			nextLog = now.Add(10 * time.Second)
			h.progress(now.Sub(start))
		}
	}
	elapsed := min(time.Since(start), h.cfg.Duration)
	stopCycle()
	cycleDone.Wait()
	return elapsed
}

func (h *harness) progress(at time.Duration) {
	h.rec.mu.Lock()
	t := h.rec.totals
	h.rec.mu.Unlock()
	h.logf("%4.0fs  paced %d  probes %d  lost %d  stale %d  5xx %d  limited %d  transport %d",
		at.Seconds(), t.Paced, t.Probes, t.Lost, t.StaleAccepts, t.Unexpected5xx+t.InternalErrors, sum(t.Limited), t.TransportErrors)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// The operation of a paced request rides in its URL's fragment ("#key_revoke:ID"),
// which HTTP clients never send: vegeta hands the URL back with the result, so
// each answer is matched to its operation without shared state.
func fragmentURL(base string, op Op, arg string) string {
	if arg == "" {
		return base + "#" + string(op)
	}
	return base + "#" + string(op) + ":" + arg
}

func parseFragment(u string) (Op, string) {
	i := strings.LastIndexByte(u, '#')
	if i < 0 {
		return "", ""
	}
	op, arg, _ := strings.Cut(u[i+1:], ":")
	return Op(op), arg
}

// target fills the next paced request (vegeta calls it from many goroutines).
func (h *harness) target(t *vegeta.Target) error {
	op := h.sched.next()
	t.Method = http.MethodPost
	switch op {
	case OpTokenRequest:
		t.URL = fragmentURL(h.api.base+"/api/oauth/token", op, "")
		t.Body = []byte(tokenForm)
		t.Header = h.tokenHeader
		return nil
	case OpKeyCreate:
		name := fmt.Sprintf("%s key %d", h.prefix, h.seq.Add(1))
		t.URL = fragmentURL(h.api.base+"/graphql", op, "")
		t.Body = graphqlBody(mutCreateKey, map[string]any{"in": map[string]any{"name": name, "scopes": []string{"keys:read"}}})
		t.Header = h.ownerHeader
		return nil
	case OpKeyRevoke:
		if k := h.keys.takeReady(); k != nil {
			t.URL = fragmentURL(h.api.base+"/graphql", op, k.id)
			t.Body = graphqlBody(mutRevokeKey, map[string]any{"id": k.id})
			t.Header = h.ownerHeader
			return nil
		}
		h.rec.count(func(t *Totals) { t.RevokeSkipped++ })
	case OpTokenRead:
		if tok, ok := h.tokens.pick(time.Now()); ok {
			t.URL = fragmentURL(h.api.base+"/graphql", op, tok.label)
			t.Body = h.viewerBody
			t.Header = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tok.token}}
			return nil
		}
		h.rec.count(func(t *Totals) { t.TokenReadSkipped++ })
	}
	// key_read, and the slots above that had nothing to work on.
	i := int(h.readSeq.Add(1) % uint64(len(h.readKeys)))
	t.URL = fragmentURL(h.api.base+"/graphql", OpKeyRead, fmt.Sprint(i))
	t.Body = h.viewerBody
	t.Header = h.readHeaders[i]
	return nil
}

// handle records one paced answer and starts the probes it calls for.
func (h *harness) handle(res *vegeta.Result) {
	op, arg := parseFragment(res.URL)
	r := reply{status: int(res.Code), body: res.Body}
	if res.Code == 0 {
		r.err = res.Error
	}
	switch op {
	case OpKeyRead:
		class, _ := classifyGraphQL(r)
		h.rec.record(op, res.Timestamp, res.Latency, class)
		if i, err := strconv.Atoi(arg); err == nil && i >= 0 && i < len(h.readKeys) && isRefused(class) {
			h.rec.verdict(verdictLost, op, h.readKeys[i].id, "read key refused: "+class)
		}
	case OpTokenRead:
		class, _ := classifyGraphQL(r)
		h.rec.record(op, res.Timestamp, res.Latency, class)
		if isRefused(class) {
			h.rec.rejectedValid(op, "token #"+arg, "unexpired token of an active client refused: "+class)
		}
	case OpTokenRequest:
		class, tok := classifyToken(r)
		h.rec.record(op, res.Timestamp, res.Latency, class)
		switch {
		case class == classOK:
			h.tokens.add(tok.AccessToken, time.Duration(tok.ExpiresIn)*time.Second, res.Timestamp)
		case isRefused(class):
			h.rec.verdict(verdictLost, op, h.client.id, "token request of the active fixture client refused: "+class)
		}
	case OpKeyCreate:
		class, data := classifyGraphQL(r)
		var d createdKeyData
		if class == classOK && !(decode(data, &d) && d.valid()) {
			class = classBadResponse
		}
		h.rec.record(op, res.Timestamp, res.Latency, class)
		if class == classOK {
			h.rec.count(func(t *Totals) { t.KeysCreated++ })
			k := h.keys.add(d.CreateAPIKey.APIKey.ID, d.CreateAPIKey.Secret)
			h.now(func() { h.probeCreated(k) })
		}
	case OpKeyRevoke:
		class, data := classifyGraphQL(r)
		var d struct {
			RevokeAPIKey revokedData `json:"revokeApiKey"`
		}
		if class == classOK && !(decode(data, &d) && d.RevokeAPIKey.ID == arg && d.RevokeAPIKey.Status == "REVOKED") {
			class = classBadResponse
		}
		h.rec.record(op, res.Timestamp, res.Latency, class)
		if k := h.keys.get(arg); k != nil {
			h.revoked(h.keys, op, k, class, true)
		}
	}
}

// revoked acts on the answer to revoking k: probe it when the revocation was
// acknowledged (and again later when probeLater), record a lost key on
// NOT_FOUND, keep it for the cleanup otherwise.
func (h *harness) revoked(p *keyPool, op Op, k *harnessKey, class string, probeLater bool) {
	switch v := judgeRevoke(class); v {
	case verdictOK:
		p.set(k, keyRevoked)
		h.rec.count(func(t *Totals) { t.KeysRevoked++ })
		if k.secret == "" {
			return // a key found by the sweep: the harness never had its secret
		}
		h.now(func() { h.probeRevoked(ProbeKeyRevoked, k) })
		if probeLater {
			h.later(h.cfg.ProbeDelay, func() { h.probeRevoked(ProbeKeyRevokedLater, k) })
		}
	case verdictLost:
		p.set(k, keyGone)
		h.rec.verdict(v, op, k.id, "revoking an acknowledged key answered "+class)
	default:
		p.set(k, keyUncertain)
	}
}

// probeCreated uses a just-acknowledged key at once, and lists it later.
func (h *harness) probeCreated(k *harnessKey) {
	r, at, lat := h.api.graphql(h.bg, k.secret, queryViewer, nil)
	class, _ := classifyGraphQL(r)
	h.rec.record(ProbeKeyCreated, at, lat, class)
	h.rec.verdict(judgeAlive(class), ProbeKeyCreated, k.id, "new key used at once: "+class)
	h.later(h.cfg.ProbeDelay, func() { h.probeListed(k) })
}

// probeListed checks, with the key itself, that it still works and is in its
// owner's listing; then the key may be revoked.
func (h *harness) probeListed(k *harnessKey) {
	defer h.keys.setReady(k)
	found, class := false, classOK
	after := any(nil)
	for page := 0; page < 20 && !found; page++ {
		r, at, lat := h.api.graphql(h.bg, k.secret, queryListKeys, map[string]any{"after": after})
		var data []byte
		class, data = classifyGraphQL(r)
		var v viewerListing
		if class == classOK && !(decode(data, &v) && v.Viewer.APIKeys != nil) {
			class = classBadResponse
		}
		h.rec.record(ProbeKeyListed, at, lat, class)
		if class != classOK {
			break
		}
		for _, e := range v.Viewer.APIKeys.Edges {
			found = found || e.Node.ID == k.id
		}
		if !v.Viewer.APIKeys.PageInfo.HasNextPage {
			break
		}
		after = v.Viewer.APIKeys.PageInfo.EndCursor
	}
	detail := "key later: " + class
	if class == classOK && !found {
		detail = "key works but is missing from its owner's listing"
	}
	h.rec.verdict(judgeListed(class, found), ProbeKeyListed, k.id, detail)
}

// probeRevoked uses a key whose revocation was acknowledged: it must be refused.
func (h *harness) probeRevoked(op Op, k *harnessKey) {
	r, at, lat := h.api.graphql(h.bg, k.secret, queryViewer, nil)
	class, _ := classifyGraphQL(r)
	h.rec.record(op, at, lat, class)
	h.rec.verdict(judgeRevoked(class), op, k.id, "revoked key used: "+classOrOK(class))
}

func classOrOK(class string) string {
	if class == classOK {
		return "accepted (200)"
	}
	return class
}
