package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkAccessLog measures the middleware chain around a handler that does
// nothing, with the process log written as JSON to a file (as stderr is in
// production): with the access log off (level warn); through slog, one write
// per line (the way of a logger without a LogWriter); through a LogWriter
// (production's way); and that again with metrics. The differences to "off"
// are the cost of the line and of counting. Run:
// go test -run '^$' -bench AccessLog -benchmem ./server/
func BenchmarkAccessLog(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		name    string
		level   slog.Level
		lean    bool
		metrics bool
	}{
		{"off", slog.LevelWarn, false, false},
		{"slog", slog.LevelInfo, false, false},
		{"lean", slog.LevelInfo, true, false},
		{"lean_and_metrics", slog.LevelInfo, true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := DefaultConfig()
			var out = slog.Handler(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: c.level}))
			if c.lean {
				cfg.AccessLog = NewLogWriter(f)
				defer cfg.AccessLog.Close()
				out = slog.NewJSONHandler(cfg.AccessLog, &slog.HandlerOptions{Level: c.level})
			}
			if c.metrics {
				cfg.Metrics = NewMetrics()
			}
			s := &Server{cfg: cfg, log: slog.New(LogHandler(out))}
			mux := http.NewServeMux()
			mux.HandleFunc("POST /api/oauth/token", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
			h := s.chain(mux)
			req := httptest.NewRequest(http.MethodPost, "/api/oauth/token", nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
