package loadtest

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{name: "no_values_give_zero", sorted: nil, q: 0.5, want: 0},
		{name: "one_value_is_every_quantile", sorted: ms(7), q: 0.99, want: 7 * time.Millisecond},
		{name: "the_median_of_four_is_the_second", sorted: ms(1, 2, 3, 4), q: 0.5, want: 2 * time.Millisecond},
		{name: "the_median_of_five_is_the_third", sorted: ms(1, 2, 3, 4, 5), q: 0.5, want: 3 * time.Millisecond},
		{name: "p99_of_a_hundred_is_the_99th", sorted: hundred, q: 0.99, want: 99 * time.Millisecond},
		{name: "p99_of_ten_is_the_largest", sorted: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 50), q: 0.99, want: 50 * time.Millisecond},
		{name: "p0_is_the_smallest", sorted: ms(3, 4), q: 0, want: 3 * time.Millisecond},
		{name: "p100_is_the_largest", sorted: ms(3, 4), q: 1, want: 4 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quantile(tt.sorted, tt.q); got != tt.want {
				t.Fatalf("quantile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

// TestRecorderReport feeds a known run to the recorder and checks every number
// the report derives from it.
func TestRecorderReport(t *testing.T) {
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	r := newRecorder(start)
	// Second 0: four key reads of 1..4 ms, one of them refused.
	for i, class := range []string{"", "", "", "http_401:invalid_token"} {
		r.record(OpKeyRead, at(0.1*float64(i)), time.Duration(i+1)*time.Millisecond, class)
	}
	// Second 1: two key reads (10 ms, 20 ms), a 503, a rate-limited creation,
	// an INTERNAL revocation and a timed-out token request.
	r.record(OpKeyRead, at(1.1), 10*time.Millisecond, "")
	r.record(OpKeyRead, at(1.2), 20*time.Millisecond, "http_503")
	r.record(OpKeyCreate, at(1.3), 5*time.Millisecond, "graphql:RATE_LIMITED")
	r.record(OpKeyRevoke, at(1.4), 6*time.Millisecond, "graphql:INTERNAL")
	r.record(OpTokenRequest, at(1.5), 10*time.Second, "transport:timeout")
	// Probes: one refused as expected, one accepted (stale), seen twice.
	r.record(ProbeKeyRevoked, at(1.6), time.Millisecond, "http_401:invalid_token")
	r.verdict(verdictOK, ProbeKeyRevoked, "k1", "")
	r.record(ProbeKeyRevoked, at(1.7), time.Millisecond, "")
	r.verdict(verdictStale, ProbeKeyRevoked, "k2", "accepted")
	r.verdict(verdictStale, ProbeKeyRevokedLater, "k2", "accepted again")
	r.verdict(verdictLost, ProbeKeyCreated, "k3", "refused")
	r.verdict(verdictInconclusive, ProbeKeyCreated, "k4", "timeout")
	r.rejectedValid(OpTokenRead, "token #3", "refused")
	r.count(func(t *Totals) { t.RevokeSkipped += 2 })

	rep := r.report(2 * time.Second)
	tot := rep.Totals
	checks := []struct {
		name      string
		got, want any
	}{
		{"duration", rep.Duration, 2.0},
		{"requests", tot.Requests, 11},
		{"paced", tot.Paced, 9},
		{"probes", tot.Probes, 2},
		{"lost", tot.Lost, 1},
		{"stale accepts count a credential once", tot.StaleAccepts, 1},
		{"rejected valid", tot.RejectedValid, 1},
		{"5xx", tot.Unexpected5xx, 1},
		{"internal", tot.InternalErrors, 1},
		{"limited", tot.Limited["graphql:RATE_LIMITED"], 1},
		{"transport", tot.TransportErrors, 1},
		{"inconclusive", tot.ProbesInconclusive, 1},
		{"revoke skipped", tot.RevokeSkipped, 2},
		{"achieved rate: paced per second", rep.Rate.Achieved, 4.5},
		{"throughput: paced successes per second", rep.Rate.Throughput, 2.0},
		{"probe rate", rep.Rate.Probes, 1.0},
		{"operations in order", len(rep.Operations), len(PacedOps)},
		{"only probes that ran are listed", len(rep.Probes), 1},
		{"events: one stale, one lost, one rejected, two server errors", len(rep.Events), 5},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	kr := rep.Operations[0]
	if kr.Op != "key_read" || kr.Count != 6 || kr.OK != 4 || kr.Rate != 3 {
		t.Errorf("key_read: %+v", kr)
	}
	if kr.Errors["http_401:invalid_token"] != 1 || kr.Errors["http_503"] != 1 || len(kr.Errors) != 2 {
		t.Errorf("key_read errors: %v", kr.Errors)
	}
	if kr.Latency.Max != 20 {
		t.Errorf("key_read max %v ms, want 20", kr.Latency.Max)
	}
	wantSeries := []Point{
		{Second: 0, Count: 4, Errors: 1, P50: 2, P99: 4},
		{Second: 1, Count: 2, Errors: 1, P50: 10, P99: 20},
	}
	if len(kr.Series) != len(wantSeries) {
		t.Fatalf("key_read series %+v", kr.Series)
	}
	for i, p := range wantSeries {
		if kr.Series[i] != p {
			t.Errorf("key_read second %d: %+v, want %+v", i, kr.Series[i], p)
		}
	}
	if rep.Operations[1].Op != "token_read" || rep.Operations[1].Count != 0 || len(rep.Operations[1].Series) != 0 {
		t.Errorf("an operation without requests: %+v", rep.Operations[1])
	}
	for _, e := range rep.Events {
		if e.Kind == eventStale && (e.Credential != "k2" || e.Count != 2 || e.At < 0) {
			t.Errorf("stale event %+v", e)
		}
	}
}

func TestJudge(t *testing.T) {
	clean := func() Report {
		return Report{
			Operations: []OpReport{{Op: "key_read", Count: 10, Latency: Latency{P99: 12}}, {Op: "key_create", Count: 0}},
			RSS:        &RSSReport{PeakMB: 80},
		}
	}
	tests := []struct {
		name   string
		change func(r *Report)
		th     Thresholds
		want   []string
	}{
		{name: "a_clean_run_passes", change: func(*Report) {}},
		{name: "a_clean_run_passes_its_thresholds", change: func(*Report) {}, th: Thresholds{MaxP99: 50 * time.Millisecond, MaxRSSMB: 100}},
		{name: "a_lost_write_fails", change: func(r *Report) { r.Totals.Lost = 1 }, want: []string{"1 acknowledged credential(s) lost"}},
		{name: "a_stale_accept_fails", change: func(r *Report) { r.Totals.StaleAccepts = 2 }, want: []string{"2 revoked credential(s) accepted after revocation"}},
		{name: "a_refused_valid_token_fails", change: func(r *Report) { r.Totals.RejectedValid = 1 }, want: []string{"1 valid access token(s) refused"}},
		{name: "a_5xx_fails", change: func(r *Report) { r.Totals.Unexpected5xx = 3 }, want: []string{"3 unexpected 5xx answer(s)"}},
		{name: "an_internal_error_fails", change: func(r *Report) { r.Totals.InternalErrors = 1 }, want: []string{"1 GraphQL INTERNAL error(s)"}},
		{name: "rate_limits_and_transport_errors_alone_do_not_fail",
			change: func(r *Report) {
				r.Totals.Limited = map[string]int{"graphql:RATE_LIMITED": 9}
				r.Totals.TransportErrors = 4
			}},
		{name: "an_interrupted_run_fails", change: func(r *Report) { r.Interrupted, r.Duration = true, 4.5 }, want: []string{"interrupted after 4.5 s"}},
		{name: "a_p99_over_the_threshold_fails", change: func(*Report) {}, th: Thresholds{MaxP99: 10 * time.Millisecond},
			want: []string{"key_read p99 12.0 ms > 10.0 ms"}},
		{name: "a_peak_rss_over_the_threshold_fails", change: func(*Report) {}, th: Thresholds{MaxRSSMB: 64},
			want: []string{"server peak RSS 80.0 MB > 64.0 MB"}},
		{name: "an_rss_threshold_without_samples_fails", change: func(r *Report) { r.RSS = nil }, th: Thresholds{MaxRSSMB: 64},
			want: []string{"--max-rss-mb needs --server-pid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clean()
			tt.change(&r)
			r.judge(tt.th)
			if r.Passed != (len(tt.want) == 0) || strings.Join(r.Failures, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("passed %v, failures %q; want %q", r.Passed, r.Failures, tt.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    memStatus
		wantErr bool
	}{
		{name: "reads_rss_and_high_water_mark", text: "Name:\tpentographer\nVmPeak:\t  1 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n",
			want: memStatus{rssKB: 40960, hwmKB: 51200}},
		{name: "reads_rss_without_a_high_water_mark", text: "VmRSS:\t 1024 kB\n", want: memStatus{rssKB: 1024}},
		{name: "refuses_a_status_without_rss", text: "Name:\tkthreadd\nState:\tS\n", wantErr: true},
		{name: "refuses_another_unit", text: "VmRSS:\t 1024 MB\n", wantErr: true},
		{name: "refuses_a_non_number", text: "VmRSS:\t lots kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus(tt.text)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseStatus = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if kbToMB(102400) != 100 {
		t.Fatalf("102400 kB is %v MB, want 100", kbToMB(102400))
	}
}

func TestTokenPool(t *testing.T) {
	now := time.Now()
	p := newTokenPool(2)
	if _, ok := p.pick(now); ok {
		t.Fatal("an empty pool gave a token")
	}
	p.add("a", time.Hour, now)
	p.add("b", time.Hour, now)
	p.add("c", time.Hour, now) // replaces a
	seen := map[string]bool{}
	for range 4 {
		tok, ok := p.pick(now)
		if !ok {
			t.Fatal("no token")
		}
		seen[tok.token] = true
	}
	if seen["a"] || !seen["b"] || !seen["c"] {
		t.Fatalf("tokens in turn: %v, want b and c (a was replaced)", seen)
	}
	p.add("d", tokenMargin/2, now) // replaces b, and is about to expire
	for range 4 {
		if tok, _ := p.pick(now); tok.token != "c" {
			t.Fatalf("picked %q, want only c (d expires within the margin)", tok.token)
		}
	}
	if _, ok := p.pick(now.Add(time.Hour)); ok {
		t.Fatal("an expired pool gave a token")
	}
}

func TestKeyPool(t *testing.T) {
	p := newKeyPool()
	a, b := p.add("a", "s1"), p.add("b", "s2")
	if p.takeReady() != nil {
		t.Fatal("a key still being probed was handed out for revocation")
	}
	p.setReady(b)
	p.setReady(a)
	if k := p.takeReady(); k != b || p.state(b) != keyRevoking {
		t.Fatalf("first ready key: got %v, want b revoking", k)
	}
	p.set(b, keyRevoked)
	p.setReady(b) // a revoked key never becomes ready again
	if k := p.takeReady(); k != a {
		t.Fatalf("second ready key %v, want a", k)
	}
	if p.takeReady() != nil {
		t.Fatal("the pool should be empty")
	}
	p.set(a, keyUncertain)
	if left := p.unrevoked(); len(left) != 1 || left[0] != a {
		t.Fatalf("unrevoked %v, want a", left)
	}
}

func TestWriteHTML(t *testing.T) {
	start := time.Now()
	r := newRecorder(start)
	for i := range 50 {
		r.record(OpKeyRead, start.Add(time.Duration(i)*40*time.Millisecond), time.Duration(i)*time.Millisecond/10, "")
	}
	r.record(ProbeKeyRevoked, start, time.Millisecond, "")
	r.verdict(verdictStale, ProbeKeyRevoked, "01abc<script>", "accepted <b>")
	rep := r.report(2 * time.Second)
	rep.Target, rep.Mix = "http://127.0.0.1:1", "key_read=1"
	rep.RSS = &RSSReport{PID: 1, PeakMB: 50, Samples: []RSSSample{{0, 40}, {1, 50}}}
	rep.judge(Thresholds{MaxP99: time.Millisecond})
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"FAIL", "key_read", "<svg", "polyline", "stale_accept", "01abc&lt;script&gt;", "accepted &lt;b&gt;", "Server memory"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://cdn", "https://", "src=", "01abc<script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q; it must be self-contained and escaped", bad)
		}
	}
	if !regexp.MustCompile(`<polyline[^>]+points="[0-9., ]+"`).MatchString(page) {
		t.Error("no plotted line")
	}
}

func TestNiceCeil(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{0, 1}, {-3, 1}, {0.7, 1}, {1, 1}, {1.2, 2}, {2.2, 2.5}, {3, 5}, {7, 10}, {42, 50}, {300, 500}, {0.03, 0.05},
	}
	for _, tt := range tests {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
