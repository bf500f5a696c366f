package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store/storetest"
)

// loadDuration is how long each load level runs.
const loadDuration = 3 * time.Second

// load drives target over loopback with `workers` concurrent workers sending as
// fast as they can, and reports throughput and latency quantiles. Every answer
// must be a 200.
func load(b *testing.B, target vegeta.Target, workers uint64) {
	b.Helper()
	attacker := vegeta.NewAttacker(vegeta.Workers(workers), vegeta.MaxWorkers(workers),
		vegeta.Connections(int(workers)), vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second))
	var m vegeta.Metrics
	for res := range attacker.Attack(vegeta.NewStaticTargeter(target), vegeta.Rate{Freq: 0}, loadDuration, "load") {
		m.Add(res)
	}
	m.Close()
	if m.Success < 1 {
		b.Fatalf("only %.2f%% succeeded: %v %v", m.Success*100, m.StatusCodes, m.Errors)
	}
	b.ReportMetric(m.Throughput, "req/s")
	b.ReportMetric(float64(m.Latencies.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(m.Latencies.P99.Microseconds()), "p99-µs")
	b.ReportMetric(0, "ns/op") // one fixed-length run, not per-op
}

var loadLevels = []uint64{1, 16, 64}

// BenchmarkTokenEndpoint loads POST /api/oauth/token (client_secret_basic) at
// concurrency 1, 16 and 64 on each store, and a bare net/http handler that only
// signs one ES256 JWT per request, as the yardstick. Run:
//
//	go test -run '^$' -bench TokenEndpoint -benchtime 1x ./server/
func BenchmarkTokenEndpoint(b *testing.B) {
	for _, backend := range storetest.Backends {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, storetest.Open(b, backend))
			owner := e.bootstrap("Bench", "owner@bench.test")
			c := e.createClient(owner, "load", nil)
			target := vegeta.Target{
				Method: http.MethodPost, URL: e.http.URL + "/api/oauth/token",
				Body: []byte("grant_type=client_credentials"),
				Header: http.Header{
					"Content-Type":  {"application/x-www-form-urlencoded"},
					"Authorization": {basicAuth(c.clientID, c.secret)},
				},
			}
			for _, n := range loadLevels {
				b.Run(fmt.Sprintf("c%d", n), func(b *testing.B) { load(b, target, n) })
			}
		})
	}
	b.Run("bare_es256_handler", func(b *testing.B) {
		srv := httptest.NewServer(bareSigner(b))
		defer srv.Close()
		target := vegeta.Target{Method: http.MethodPost, URL: srv.URL + "/token"}
		for _, n := range loadLevels {
			b.Run(fmt.Sprintf("c%d", n), func(b *testing.B) { load(b, target, n) })
		}
	})
}

func basicAuth(id, secret string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

// bareSigner is the yardstick: a plain handler that parses the form, hashes the
// Basic credentials, signs one ES256 JWT with the same claims per request and
// writes it as JSON, doing nothing else.
func bareSigner(b *testing.B) http.Handler {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		id, secret, _ := r.BasicAuth()
		sum := sha256.Sum256([]byte(id + "\x00" + secret))
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
			"iss": "http://localhost", "sub": id, "client_id": id, "aud": "http://localhost/graphql",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(), "jti": hex.EncodeToString(sum[:12]),
			"scope": "keys:read", "org_id": "org",
		})
		tok.Header["kid"], tok.Header["typ"] = "k", "at+jwt"
		s, err := tok.SignedString(key)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": s, "token_type": "Bearer", "expires_in": 3600, "scope": "keys:read"})
	})
}

// BenchmarkTokenEndpointAgainstBareSigner runs the token endpoint and the bare
// signing handler at concurrency 16, interleaved in rounds of one second so that
// both see the same machine, and reports each one's throughput and the ratio.
// Run: go test -run '^$' -bench TokenEndpointAgainstBareSigner -benchtime 1x ./server/
func BenchmarkTokenEndpointAgainstBareSigner(b *testing.B) {
	const rounds, workers = 8, 16
	bare := httptest.NewServer(bareSigner(b))
	defer bare.Close()
	for _, backend := range storetest.Backends {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, storetest.Open(b, backend))
			owner := e.bootstrap("Bench", "owner@bench.test")
			c := e.createClient(owner, "load", nil)
			header := http.Header{
				"Content-Type":  {"application/x-www-form-urlencoded"},
				"Authorization": {basicAuth(c.clientID, c.secret)},
			}
			targets := []vegeta.Target{
				{Method: http.MethodPost, URL: e.http.URL + "/api/oauth/token", Body: []byte("grant_type=client_credentials"), Header: header},
				{Method: http.MethodPost, URL: bare.URL + "/token", Body: []byte("grant_type=client_credentials"), Header: header},
			}
			rate := interleave(b, rounds, workers, targets...)
			endpoint, yardstick := rate[0], rate[1]
			b.ReportMetric(endpoint, "endpoint-req/s")
			b.ReportMetric(yardstick, "bare-req/s")
			b.ReportMetric(endpoint/yardstick, "ratio")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkAccessTokenOnGraphQL measures `{ viewer { role } }` through the whole
// in-process stack authenticated with an access token: "cached" reuses the
// verified principal (as a hot token does), "uncached" disables the cache so
// every request checks signature, claims, client and jti against the store.
func BenchmarkAccessTokenOnGraphQL(b *testing.B) {
	for _, backend := range storetest.Backends {
		for _, cached := range []bool{true, false} {
			name := backend + "/cached"
			if !cached {
				name = backend + "/uncached"
			}
			b.Run(name, func(b *testing.B) {
				e := newEnv(b, storetest.Open(b, backend), func(o *auth.Options) {
					if !cached {
						o.CacheTTL = -1
					}
				})
				owner := e.bootstrap("Bench", "owner@bench.test")
				tok := e.token(e.createClient(owner, "bench", nil), "")
				h := e.srv.Handler()
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+tok)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}

// BenchmarkIntrospectionUnderLoad introspects a ptg_ key and an access token at
// concurrency 16 over loopback, interleaved in rounds of one second, and
// reports each one's throughput and the ratio token/key. Run:
// go test -run '^$' -bench IntrospectionUnderLoad -benchtime 1x ./server/
func BenchmarkIntrospectionUnderLoad(b *testing.B) {
	const rounds, workers = 6, 16
	for _, backend := range storetest.Backends {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, storetest.Open(b, backend))
			owner := e.bootstrap("Bench", "owner@bench.test")
			rs := e.createClient(owner, "resource server", nil)
			tok := e.token(e.createClient(owner, "caller", nil), "")
			target := func(token string) vegeta.Target {
				return vegeta.Target{Method: http.MethodPost, URL: e.http.URL + "/api/oauth/introspect",
					Body: []byte("token=" + token), Header: http.Header{
						"Content-Type":  {"application/x-www-form-urlencoded"},
						"Authorization": {basicAuth(rs.clientID, rs.secret)},
					}}
			}
			rate := interleave(b, rounds, workers, target(owner.key), target(tok))
			b.ReportMetric(rate[0], "key-req/s")
			b.ReportMetric(rate[1], "token-req/s")
			b.ReportMetric(rate[1]/rate[0], "ratio")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// interleave loads each target with `workers` concurrent workers for one second
// per round, alternating which goes first, and returns each one's throughput
// over all rounds. Every answer must be a 200.
func interleave(b *testing.B, rounds, workers int, targets ...vegeta.Target) []float64 {
	b.Helper()
	done := make([]float64, len(targets))
	took := make([]time.Duration, len(targets))
	for round := range rounds {
		for i := range targets {
			idx := (i + round) % len(targets)
			attacker := vegeta.NewAttacker(vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)),
				vegeta.Connections(workers), vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second))
			var m vegeta.Metrics
			for res := range attacker.Attack(vegeta.NewStaticTargeter(targets[idx]), vegeta.Rate{Freq: 0}, time.Second, "round") {
				m.Add(res)
			}
			m.Close()
			if m.Success < 1 {
				b.Fatalf("target %d: %.2f%% succeeded: %v", idx, m.Success*100, m.StatusCodes)
			}
			done[idx] += float64(m.Requests)
			took[idx] += m.Duration
		}
	}
	rates := make([]float64, len(targets))
	for i := range targets {
		rates[i] = done[i] / took[i].Seconds()
	}
	return rates
}
