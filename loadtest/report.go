package loadtest

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Report is the outcome of one run; it is written as report.json and rendered
// as report.html. It never holds a secret: credentials appear by id or label.
type Report struct {
	Target    string    `json:"target"`
	StartedAt time.Time `json:"started_at"`
	// Duration is the timed run in seconds (shorter than asked when interrupted).
	Duration float64 `json:"duration_s"`
	// Interrupted is set when the run was stopped before its duration; such a
	// run does not pass.
	Interrupted bool     `json:"interrupted"`
	Rate        Rates    `json:"rate"`
	Mix         string   `json:"mix"`
	Settings    Settings `json:"settings"`
	// Operations are the paced requests, one entry per operation; All sums them.
	Operations []OpReport `json:"operations"`
	All        OpReport   `json:"all_operations"`
	// Probes are the requests sent besides the paced rate: probes, the OAuth
	// client cycle and the revocations after the run.
	Probes   []OpReport `json:"probes"`
	Totals   Totals     `json:"totals"`
	RSS      *RSSReport `json:"rss,omitempty"`
	Events   []Event    `json:"events"`
	Failures []string   `json:"failures"`
	Passed   bool       `json:"passed"`
}

// Rates are requests per second over the timed run.
type Rates struct {
	Target     float64 `json:"target"`     // --rate
	Achieved   float64 `json:"achieved"`   // paced requests sent
	Throughput float64 `json:"throughput"` // paced requests that succeeded
	Probes     float64 `json:"probes"`     // probe and client cycle requests during the timed run
}

// Settings are the knobs the run used.
type Settings struct {
	ProbeDelayMS  float64 `json:"probe_delay_ms"`
	ClientEveryS  float64 `json:"client_every_s"`
	ReadKeys      int     `json:"read_keys"`
	TokenPool     int     `json:"token_pool"`
	TimeoutMS     float64 `json:"timeout_ms"`
	MaxP99MS      float64 `json:"max_p99_ms,omitempty"`
	MaxRSSMB      float64 `json:"max_rss_mb,omitempty"`
	CreatesPerMin float64 `json:"expected_creations_per_minute"`
}

// OpReport describes one class of requests.
type OpReport struct {
	Op    string  `json:"op"`
	Count int     `json:"count"`
	OK    int     `json:"ok"`
	Rate  float64 `json:"rate"` // count per second of the timed run
	// Latency is measured from sending the request to reading the whole answer.
	Latency Latency        `json:"latency_ms"`
	Errors  map[string]int `json:"errors"`
	// Series has one point per second of the run that saw requests of this class.
	Series []Point `json:"series"`
}

// Latency quantiles in milliseconds (vegeta's t-digest for the whole run).
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Point is one second of one class: requests sent in that second, how many
// failed, and the exact p50 and p99 of their latencies.
type Point struct {
	Second int     `json:"t"`
	Count  int     `json:"n"`
	Errors int     `json:"errors"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
}

// Totals are the run's verdict counters.
type Totals struct {
	Requests int `json:"requests"` // paced + probes
	Paced    int `json:"paced"`
	Probes   int `json:"probes"`
	// Lost counts acknowledged credentials later refused, missing from their
	// owner's listing, or answered NOT_FOUND when revoked.
	Lost int `json:"lost"`
	// StaleAccepts counts revoked credentials that were accepted after their
	// revocation returned (or listed ACTIVE after it).
	StaleAccepts int `json:"stale_accepts"`
	// RejectedValid counts access tokens refused while valid.
	RejectedValid int `json:"rejected_valid"`
	// Unexpected5xx counts 5xx answers; InternalErrors GraphQL INTERNAL errors.
	Unexpected5xx  int `json:"unexpected_5xx"`
	InternalErrors int `json:"internal_errors"`
	// Limited counts answers that apply a documented server limit, by class.
	Limited            map[string]int `json:"limited"`
	TransportErrors    int            `json:"transport_errors"`
	ProbesInconclusive int            `json:"probes_inconclusive"`
	KeysCreated        int            `json:"keys_created"`
	KeysRevoked        int            `json:"keys_revoked"`
	ClientsCreated     int            `json:"clients_created"`
	ClientsRevoked     int            `json:"clients_revoked"`
	// RevokeSkipped counts key_revoke slots with no key ready to revoke (spent
	// on a key_read); TokenReadSkipped token_read slots with no live token.
	RevokeSkipped    int `json:"revoke_skipped"`
	TokenReadSkipped int `json:"token_read_skipped"`
}

// Event is one broken promise (or server error), for the report's detail list.
type Event struct {
	At         float64 `json:"at_s"` // seconds since the timed run began
	Kind       string  `json:"kind"` // lost, stale_accept, rejected_valid, server_error
	Op         string  `json:"op"`
	Credential string  `json:"credential,omitempty"` // id or fixture label, never a secret
	Detail     string  `json:"detail"`
	Count      int     `json:"count"` // observations of the same kind for the credential
}

// Event kinds.
const (
	eventLost          = "lost"
	eventStale         = "stale_accept"
	eventRejectedValid = "rejected_valid"
	eventServerError   = "server_error"
)

// maxEvents bounds the detail list; the totals count every event.
const maxEvents = 200

// recorder collects every request of a run. It is safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	start  time.Time
	ops    map[Op]*opStats
	all    opStats
	totals Totals
	events []Event
	seen   map[string]int // kind+credential → index in events (or -1 past maxEvents)
}

type opStats struct {
	count, ok int
	latency   vegeta.LatencyMetrics
	errors    map[string]int
	seconds   []second
}

type second struct {
	latencies []time.Duration
	errors    int
}

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, ops: map[Op]*opStats{}, seen: map[string]int{},
		totals: Totals{Limited: map[string]int{}}}
}

// record adds one request of class op, sent at `at`, to the run.
func (r *recorder) record(op Op, at time.Time, latency time.Duration, class string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.ops[op]
	if s == nil {
		s = &opStats{}
		r.ops[op] = s
	}
	sec := int(at.Sub(r.start) / time.Second)
	s.add(sec, latency, class)
	r.totals.Requests++
	if isPaced(op) {
		r.all.add(sec, latency, class)
		r.totals.Paced++
	} else {
		r.totals.Probes++
	}
	switch {
	case class == classOK:
	case isLimited(class):
		r.totals.Limited[class]++
	case isServerError(class):
		if class == "graphql:INTERNAL" {
			r.totals.InternalErrors++
		} else {
			r.totals.Unexpected5xx++
		}
		r.eventLocked(at, eventServerError, op, "", class, false)
	case len(class) > 10 && class[:10] == "transport:":
		r.totals.TransportErrors++
	}
}

func (s *opStats) add(sec int, latency time.Duration, class string) {
	s.count++
	s.latency.Add(latency)
	if sec < 0 {
		sec = 0
	}
	for len(s.seconds) <= sec {
		s.seconds = append(s.seconds, second{})
	}
	s.seconds[sec].latencies = append(s.seconds[sec].latencies, latency)
	if class == classOK {
		s.ok++
		return
	}
	s.seconds[sec].errors++
	if s.errors == nil {
		s.errors = map[string]int{}
	}
	s.errors[class]++
}

// verdict records what a probe proved about credential (an id or a label).
// Lost, stale and rejected credentials count once each however often they are
// seen; inconclusive probes count every time.
func (r *recorder) verdict(v verdict, op Op, credential, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	switch v {
	case verdictLost:
		r.eventLocked(now, eventLost, op, credential, detail, true)
	case verdictStale:
		r.eventLocked(now, eventStale, op, credential, detail, true)
	case verdictInconclusive:
		r.totals.ProbesInconclusive++
	}
}

// rejectedValid records a valid access token that was refused.
func (r *recorder) rejectedValid(op Op, credential, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eventLocked(time.Now(), eventRejectedValid, op, credential, detail, true)
}

// eventLocked adds an event; with once, a credential counts once per kind.
func (r *recorder) eventLocked(at time.Time, kind string, op Op, credential, detail string, once bool) {
	key := kind + "\x00" + credential
	if once {
		if i, ok := r.seen[key]; ok {
			if i >= 0 {
				r.events[i].Count++
			}
			return
		}
	}
	switch kind {
	case eventLost:
		r.totals.Lost++
	case eventStale:
		r.totals.StaleAccepts++
	case eventRejectedValid:
		r.totals.RejectedValid++
	}
	idx := -1
	if len(r.events) < maxEvents {
		idx = len(r.events)
		r.events = append(r.events, Event{
			At: math.Round(at.Sub(r.start).Seconds()*1000) / 1000, Kind: kind, Op: string(op),
			Credential: credential, Detail: detail, Count: 1,
		})
	}
	if once {
		r.seen[key] = idx
	}
}

// count adjusts one of the plain counters.
func (r *recorder) count(f func(t *Totals)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.totals)
}

// report builds the report of a timed run that lasted elapsed (rates are per
// second of it).
func (r *recorder) report(elapsed time.Duration) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	secs := elapsed.Seconds()
	rep := Report{Duration: round3(secs), Totals: r.totals, Events: slices.Clone(r.events)}
	rep.Totals.Limited = map[string]int{}
	for k, v := range r.totals.Limited {
		rep.Totals.Limited[k] = v
	}
	if rep.Events == nil {
		rep.Events = []Event{}
	}
	sort.SliceStable(rep.Events, func(i, j int) bool { return rep.Events[i].At < rep.Events[j].At })
	for _, op := range PacedOps {
		rep.Operations = append(rep.Operations, r.ops[op].report(op, secs))
	}
	for _, op := range ProbeOps {
		if s := r.ops[op]; s != nil {
			rep.Probes = append(rep.Probes, s.report(op, secs))
		}
	}
	rep.All = r.all.report("all", secs)
	rep.Rate.Achieved = rep.All.Rate
	if secs > 0 {
		rep.Rate.Throughput = round3(float64(r.all.ok) / secs)
		n := 0
		limit := int(math.Ceil(secs))
		for _, op := range ProbeOps {
			if s := r.ops[op]; s != nil {
				for i := 0; i < len(s.seconds) && i < limit; i++ {
					n += len(s.seconds[i].latencies)
				}
			}
		}
		rep.Rate.Probes = round3(float64(n) / secs)
	}
	return rep
}

func (s *opStats) report(op Op, secs float64) OpReport {
	o := OpReport{Op: string(op), Errors: map[string]int{}, Series: []Point{}}
	if s == nil {
		return o
	}
	o.Count, o.OK = s.count, s.ok
	if secs > 0 {
		o.Rate = round3(float64(s.count) / secs)
	}
	if s.count > 0 {
		o.Latency = Latency{
			P50: ms(s.latency.Quantile(0.50)), P90: ms(s.latency.Quantile(0.90)), P99: ms(s.latency.Quantile(0.99)),
			Max: ms(s.latency.Max), Mean: ms(s.latency.Total / time.Duration(s.count)),
		}
	}
	for k, v := range s.errors {
		o.Errors[k] = v
	}
	for i, sec := range s.seconds {
		if len(sec.latencies) == 0 {
			continue
		}
		sorted := slices.Clone(sec.latencies)
		slices.Sort(sorted)
		o.Series = append(o.Series, Point{
			Second: i, Count: len(sorted), Errors: sec.errors,
			P50: ms(quantile(sorted, 0.50)), P99: ms(quantile(sorted, 0.99)),
		})
	}
	return o
}

// quantile is the nearest-rank q-quantile of sorted latencies: the smallest
// value with at least q of the values at or below it.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// Thresholds are the optional limits that also fail a run.
type Thresholds struct {
	MaxP99   time.Duration // any paced operation's p99 above it fails the run (0: off)
	MaxRSSMB float64       // the server's peak RSS above it fails the run (0: off)
}

// judge fills Failures and Passed: the invariants (nothing lost, no stale
// accept, no valid token refused, no 5xx or INTERNAL error) always apply; the
// thresholds when set.
func (rep *Report) judge(th Thresholds) {
	var f []string
	t := rep.Totals
	if rep.Interrupted {
		f = append(f, fmt.Sprintf("interrupted after %.1f s", rep.Duration))
	}
	if t.Lost > 0 {
		f = append(f, fmt.Sprintf("%d acknowledged credential(s) lost", t.Lost))
	}
	if t.StaleAccepts > 0 {
		f = append(f, fmt.Sprintf("%d revoked credential(s) accepted after revocation", t.StaleAccepts))
	}
	if t.RejectedValid > 0 {
		f = append(f, fmt.Sprintf("%d valid access token(s) refused", t.RejectedValid))
	}
	if t.Unexpected5xx > 0 {
		f = append(f, fmt.Sprintf("%d unexpected 5xx answer(s)", t.Unexpected5xx))
	}
	if t.InternalErrors > 0 {
		f = append(f, fmt.Sprintf("%d GraphQL INTERNAL error(s)", t.InternalErrors))
	}
	if th.MaxP99 > 0 {
		for _, o := range rep.Operations {
			if o.Count > 0 && o.Latency.P99 > ms(th.MaxP99) {
				f = append(f, fmt.Sprintf("%s p99 %.1f ms > %.1f ms", o.Op, o.Latency.P99, ms(th.MaxP99)))
			}
		}
	}
	if th.MaxRSSMB > 0 {
		switch {
		case rep.RSS == nil:
			f = append(f, "--max-rss-mb needs --server-pid")
		case rep.RSS.PeakMB > th.MaxRSSMB:
			f = append(f, fmt.Sprintf("server peak RSS %.1f MB > %.1f MB", rep.RSS.PeakMB, th.MaxRSSMB))
		}
	}
	if f == nil {
		f = []string{}
	}
	rep.Failures = f
	rep.Passed = len(f) == 0
}

// WriteSummary prints the report as a short text table.
func (rep *Report) WriteSummary(w io.Writer) {
	verdict := "PASS"
	if !rep.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s  %s  %.1fs at %.1f req/s asked: %.1f sent, %.1f succeeded; probes %.1f req/s\n",
		verdict, rep.Target, rep.Duration, rep.Rate.Target, rep.Rate.Achieved, rep.Rate.Throughput, rep.Rate.Probes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tcount\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\t")
	for _, o := range append(slices.Clone(rep.Operations), rep.All) {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n", o.Op, o.Count, o.Rate,
			o.Latency.P50, o.Latency.P90, o.Latency.P99, o.Latency.Max, o.Count-o.OK)
	}
	_ = tw.Flush()
	t := rep.Totals
	fmt.Fprintf(w, "lost %d  stale accepts %d  valid tokens refused %d  5xx %d  INTERNAL %d  limited %d  transport %d  inconclusive probes %d\n",
		t.Lost, t.StaleAccepts, t.RejectedValid, t.Unexpected5xx, t.InternalErrors, sum(t.Limited), t.TransportErrors, t.ProbesInconclusive)
	fmt.Fprintf(w, "keys created %d revoked %d  clients created %d revoked %d  probes sent %d\n",
		t.KeysCreated, t.KeysRevoked, t.ClientsCreated, t.ClientsRevoked, t.Probes)
	if rep.RSS != nil {
		fmt.Fprintf(w, "server RSS (pid %d): start %.1f MB, peak %.1f MB, end %.1f MB\n", rep.RSS.PID, rep.RSS.StartMB, rep.RSS.PeakMB, rep.RSS.EndMB)
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(w, "FAIL: %s\n", f)
	}
}
