package server

import (
	"context"
	"database/sql"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pentographer/pentographer/auth"
)

// Metrics are the Prometheus metrics of one server, in a registry of their own
// (never the process-wide default one), served on a listener of their own
// (ServeMetrics). It is the auth.Observer of the server's service too.
//
// No label value ever comes from client text: a route is the pattern of the
// mux that served the request, a method one of the standard ones, a status a
// number, and the rest come from fixed sets of this package and auth. So no
// secret, credential id or record id can reach a label, and the number of
// series stays bounded whatever clients send.
//
// A nil *Metrics counts nothing: every method is safe to call on it.
type Metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	authentications *prometheus.CounterVec
	cacheLookups    *prometheus.CounterVec
	tokensIssued    prometheus.Counter
	rateLimited     *prometheus.CounterVec
	// limitedBy holds rateLimited's counter of each limiter, resolved once.
	limitedBy map[string]prometheus.Counter
	// series caches the request metrics of each label set (requestSeries).
	series sync.Map
}

// The limiters whose refusals pentographer_rate_limited_total counts.
const (
	limiterClientAuthentication = "client_authentication"
	limiterSignIn               = "sign_in"
	limiterMCP                  = "mcp"
	limiterUnknownCredentials   = "unknown_credentials"
)

// routeUnmatched is the route label of a request no route of ours served (the
// catch-all 404, or an answer of the mux itself).
const routeUnmatched = "unmatched"

// requestBuckets spread from half a millisecond (a cached key) to ten seconds
// (a request at the end of its timeout); sign-ins, which hash a password, land
// in the middle.
var requestBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// NewMetrics builds the metrics and their registry, with the Go runtime,
// process and build information collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pentographer_http_requests_total",
			Help: "HTTP requests answered, by route (the pattern that served them), method and status; 499: the client went away first.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pentographer_http_request_duration_seconds",
			Help:    "Time spent answering HTTP requests, by route and method.",
			Buckets: requestBuckets,
		}, []string{"route", "method"}),
		authentications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pentographer_authentications_total",
			Help: "Credential checks, by kind of credential (API_KEY, ACCESS_TOKEN, SESSION, CLIENT_SECRET) and outcome (success, malformed, expired, rejected, error).",
		}, []string{"kind", "outcome"}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pentographer_auth_cache_lookups_total",
			Help: "Looks into the authentication cache, by result (hit or miss).",
		}, []string{"result"}),
		tokensIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pentographer_tokens_issued_total",
			Help: "Access tokens signed.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pentographer_rate_limited_total",
			Help: "Requests refused with 429, by limiter (client_authentication, sign_in, mcp).",
		}, []string{"limiter"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.authentications, m.cacheLookups, m.tokensIssued, m.rateLimited,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		buildInfo(),
	)
	// Every limiter and cache result shows from the start, at zero, so that
	// rates and alerts work before the first event.
	m.limitedBy = map[string]prometheus.Counter{}
	for _, l := range []string{limiterClientAuthentication, limiterSignIn, limiterMCP, limiterUnknownCredentials} {
		m.limitedBy[l] = m.rateLimited.WithLabelValues(l)
	}
	m.cacheLookups.WithLabelValues("hit")
	m.cacheLookups.WithLabelValues("miss")
	return m
}

// buildInfo is pentographer_build_info: 1, with the version, commit and Go
// release of this binary as labels.
func buildInfo() prometheus.Collector {
	version, revision := "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "pentographer_build_info",
		Help:        "Always 1; the labels describe this build.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// Authentication counts one credential check (auth.Observer).
func (m *Metrics) Authentication(method auth.Method, outcome string) {
	if m != nil {
		m.authentications.WithLabelValues(string(method), outcome).Inc()
	}
}

// CacheLookup counts one look into the authentication cache (auth.Observer).
func (m *Metrics) CacheLookup(hit bool) {
	if m == nil {
		return
	}
	result := "miss"
	if hit {
		result = "hit"
	}
	m.cacheLookups.WithLabelValues(result).Inc()
}

// TokenIssued counts one access token signed (auth.Observer).
func (m *Metrics) TokenIssued() {
	if m != nil {
		m.tokensIssued.Inc()
	}
}

var _ auth.Observer = (*Metrics)(nil)

// WatchDatabase exports the statistics of a connection pool (store.Store's
// Stats) under the names of the Prometheus client's own database collector
// (go_sql_*), read at every scrape.
func (m *Metrics) WatchDatabase(stats func() sql.DBStats) {
	if m != nil {
		m.reg.MustRegister(newPoolCollector(stats))
	}
}

// request counts one answered request and its duration.
func (m *Metrics) request(route, method string, status int, elapsed time.Duration) {
	if m == nil {
		return
	}
	method = methodLabel(method)
	key := requestSeries{route, method, status}
	series, ok := m.series.Load(key)
	if !ok {
		// The label sets are few (routes × methods × statuses): resolve each
		// once rather than hashing the labels on every request.
		series, _ = m.series.LoadOrStore(key, requestMetrics{
			count:    m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(route, method),
		})
	}
	rm := series.(requestMetrics)
	rm.count.Inc()
	rm.duration.Observe(elapsed.Seconds())
}

// requestSeries names the series of one kind of answer; requestMetrics are
// its counter and histogram.
type requestSeries struct {
	route, method string
	status        int
}

type requestMetrics struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// limited counts one 429 of a limiter.
func (m *Metrics) limited(limiter string) {
	if m != nil {
		m.limitedBy[limiter].Inc()
	}
}

// methodLabel keeps the standard methods and folds any other (a client may
// send any token) into one label.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// routeLabel is the route label of a request the mux served with pattern.
func routeLabel(pattern string) string {
	if pattern == "" || pattern == "/" {
		return routeUnmatched
	}
	return pattern
}

// Handler serves GET /metrics in the Prometheus text (or negotiated) format;
// another method there gets 405, any other path 404.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.Handle("/metrics", methodNotAllowed("GET"))
	mux.HandleFunc("/", http.NotFound)
	return mux
}

// ServeMetrics serves m's Handler on ln until ctx ends.
func ServeMetrics(ctx context.Context, ln net.Listener, m *Metrics, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hs := &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return serveUntil(ctx, hs, ln, 5*time.Second)
}

// poolCollector exports sql.DBStats as the Prometheus client's
// collectors.NewDBStatsCollector does, from a function, so that the store need
// not hand out its *sql.DB.
type poolCollector struct {
	stats                                               func() sql.DBStats
	maxOpen, open, inUse, idle                          *prometheus.Desc
	waitCount, waitDuration                             *prometheus.Desc
	maxIdleClosed, maxIdleTimeClosed, maxLifetimeClosed *prometheus.Desc
}

func newPoolCollector(stats func() sql.DBStats) *poolCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("go_sql_"+name, help, nil, prometheus.Labels{"db_name": "pentographer"})
	}
	return &poolCollector{
		stats:             stats,
		maxOpen:           desc("max_open_connections", "Maximum number of open connections to the database."),
		open:              desc("open_connections", "The number of established connections both in use and idle."),
		inUse:             desc("in_use_connections", "The number of connections currently in use."),
		idle:              desc("idle_connections", "The number of idle connections."),
		waitCount:         desc("wait_count_total", "The total number of connections waited for."),
		waitDuration:      desc("wait_duration_seconds_total", "The total time blocked waiting for a new connection."),
		maxIdleClosed:     desc("max_idle_closed_total", "The total number of connections closed due to SetMaxIdleConns."),
		maxIdleTimeClosed: desc("max_idle_time_closed_total", "The total number of connections closed due to SetConnMaxIdleTime."),
		maxLifetimeClosed: desc("max_lifetime_closed_total", "The total number of connections closed due to SetConnMaxLifetime."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.maxOpen, c.open, c.inUse, c.idle, c.waitCount, c.waitDuration,
		c.maxIdleClosed, c.maxIdleTimeClosed, c.maxLifetimeClosed} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.maxOpen, float64(s.MaxOpenConnections))
	gauge(c.open, float64(s.OpenConnections))
	gauge(c.inUse, float64(s.InUse))
	gauge(c.idle, float64(s.Idle))
	counter(c.waitCount, float64(s.WaitCount))
	counter(c.waitDuration, s.WaitDuration.Seconds())
	counter(c.maxIdleClosed, float64(s.MaxIdleClosed))
	counter(c.maxIdleTimeClosed, float64(s.MaxIdleTimeClosed))
	counter(c.maxLifetimeClosed, float64(s.MaxLifetimeClosed))
}
