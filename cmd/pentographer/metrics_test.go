package main

import (
	"net"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pentographer/pentographer/store/storetest"
)

// scrapeMetrics GETs a /metrics and parses it.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// graphqlRequests is pentographer_http_requests_total{route="POST /graphql",status="200"}.
func graphqlRequests(fams map[string]*dto.MetricFamily) float64 {
	var n float64
	for _, m := range fams["pentographer_http_requests_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["route"] == "POST /graphql" && labels["status"] == "200" {
			n += m.GetCounter().GetValue()
		}
	}
	return n
}

func TestTheMetricsListener(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend+"/on_when_configured", func(t *testing.T) {
			s := startServe(t, map[string]string{
				"PTG_DATABASE_URL":   storetest.URL(t, backend),
				"PTG_LISTEN":         "127.0.0.1:0",
				"PTG_METRICS_LISTEN": "127.0.0.1:0",
				"PTG_LOG_FORMAT":     "json",
			})
			api := s.logLine("listening")["addr"].(string)
			metrics := "http://" + s.logLine("serving metrics")["addr"].(string) + "/metrics"
			key := waitFor(t, func() string { return apiKeyRE.FindString(s.out.String()) }, "the first key", s.errOut)
			before := scrapeMetrics(t, metrics)
			for range 2 {
				if code := graphqlViewer(t, "http://"+api, key); code != http.StatusOK {
					t.Fatalf("the key got %d", code)
				}
			}
			after := scrapeMetrics(t, metrics)
			if moved := graphqlRequests(after) - graphqlRequests(before); moved != 2 {
				t.Fatalf("two GraphQL requests moved the counter by %v", moved)
			}
			for _, name := range []string{"pentographer_authentications_total", "pentographer_build_info", "go_sql_open_connections"} {
				if after[name] == nil {
					t.Errorf("no %s", name)
				}
			}
			if code := s.stop(); code != 0 {
				t.Fatalf("serve exited %d: %s", code, s.errOut)
			}
			// It stopped with the server.
			if res, err := http.Get(metrics); err == nil {
				_ = res.Body.Close()
				t.Fatal("the metrics listener outlived the server")
			}
			// The access log reached stderr by the end, through the buffer.
			if !strings.Contains(s.errOut.String(), `"msg":"http request","request_id":`) ||
				!strings.Contains(s.errOut.String(), `"route":"POST /graphql","path":"/graphql","status":200`) {
				t.Fatalf("no access log lines: %s", s.errOut)
			}
		})
	}
	t.Run("off_by_default", func(t *testing.T) {
		s := startServe(t, map[string]string{
			"PTG_DATABASE_URL": "sqlite:" + t.TempDir() + "/off.db",
			"PTG_LISTEN":       "127.0.0.1:0",
			"PTG_LOG_FORMAT":   "json",
		})
		api := s.logLine("listening")["addr"].(string)
		waitFor(t, func() string { return apiKeyRE.FindString(s.out.String()) }, "the first key", s.errOut)
		res, err := http.Get("http://" + api + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("the API listener answered /metrics with %d", res.StatusCode)
		}
		if code := s.stop(); code != 0 {
			t.Fatalf("serve exited %d: %s", code, s.errOut)
		}
		if strings.Contains(s.errOut.String(), "serving metrics") {
			t.Fatalf("metrics served without being configured: %s", s.errOut)
		}
	})
	t.Run("a_busy_metrics_port_fails_before_anything_is_created", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		env := map[string]string{
			"PTG_DATABASE_URL": "sqlite:" + t.TempDir() + "/busy.db", "PTG_LISTEN": "127.0.0.1:0",
			"PTG_METRICS_LISTEN": busy.Addr().String(), "PTG_LOG_FORMAT": "json",
		}
		code, out, errOut := runCmd(t, env, "serve")
		if code == 0 || out != "" || !strings.Contains(errOut, "already in use") || !strings.Contains(errOut, "PTG_METRICS_LISTEN") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("a_bad_metrics_address_is_refused", func(t *testing.T) {
		code, _, errOut := runCmd(t, map[string]string{"PTG_METRICS_LISTEN": "nine-ninety"}, "serve")
		if code == 0 || !strings.Contains(errOut, "PTG_METRICS_LISTEN must be host:port") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
}
