package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pentographer/pentographer/store/storetest"
)

// Unknown paths: a browser gets the HTML page with links, a program the JSON
// error it always got.
func TestNotFound(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, c := range []struct {
		name, method, path, accept string
		wantHTML                   bool
	}{
		{"a browser gets a page", http.MethodGet, "/no/such/page", browser, true},
		{"a browser gets a page for metrics", http.MethodGet, "/metrics", browser, true},
		{"a browser's HEAD gets the page's headers", http.MethodHead, "/nope", browser, true},
		{"a program without Accept gets JSON", http.MethodGet, "/no/such/page", "", false},
		{"a program asking for JSON gets JSON", http.MethodGet, "/nope", "application/json", false},
		{"a program asking for anything gets JSON", http.MethodGet, "/nope", "*/*", false},
		{"a POST from a program gets JSON", http.MethodPost, "/nope", "application/json", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, e.http.URL+c.path, nil)
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			r := e.do(req)
			if r.Status != http.StatusNotFound {
				t.Fatalf("status %d, want 404", r.Status)
			}
			ct := r.Header.Get("Content-Type")
			if !c.wantHTML {
				var body map[string]string
				if ct != "application/json" || json.Unmarshal(r.Body, &body) != nil || body["error"] != "not_found" {
					t.Fatalf("want the JSON error, got %s: %s", ct, r.Body)
				}
				return
			}
			if ct != "text/html; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP %q", csp)
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if c.method == http.MethodHead {
				if len(r.Body) != 0 {
					t.Errorf("HEAD answered a body")
				}
				return
			}
			body := string(r.Body)
			for _, want := range []string{"<h1>Page not found</h1>", `href="/explorer"`, `href="/login"`, `href="/settings"`, `href="/assets/app.css?v=`} {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
		})
	}
}

// The pages' stylesheet and scripts are served fingerprinted and cacheable.
func TestPageAssets(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	get := func(path string) response {
		req, _ := http.NewRequest(http.MethodGet, e.http.URL+path, nil)
		req.Header.Set("Accept", "text/html")
		return e.do(req)
	}
	page := get("/definitely-not-here")
	_, after, ok := strings.Cut(string(page.Body), `href="/assets/app.css`)
	if !ok {
		t.Fatalf("the page does not link the stylesheet: %s", page.Body)
	}
	ref, _, _ := strings.Cut(after, `"`)
	r := get("/assets/app.css" + ref)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("%d %s", r.Status, r.Header.Get("Content-Type"))
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control %q", cc)
	}
	if r := get("/assets/nope.css"); r.Status != http.StatusNotFound {
		t.Errorf("unknown asset: %d", r.Status)
	}
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/assets/app.css", nil)
	if r := e.do(req); r.Status != http.StatusMethodNotAllowed && r.Status != http.StatusNotFound {
		t.Errorf("POST an asset: %d", r.Status)
	}
}
