package web

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestExplorerPage(t *testing.T) {
	h := Explorer("/graphql")
	tests := []struct {
		name, method, target string
		accept               string
		wantBody             bool
	}{
		{"explorer", http.MethodGet, "/explorer", "", true},
		{"explorer slash", http.MethodGet, "/explorer/", "", true},
		{"graphql from a browser", http.MethodGet, "/graphql", "text/html,application/xhtml+xml", true},
		{"arbitrary path", http.MethodGet, "/some/other/path?x=1", "", true},
		{"assets without slash is not an asset", http.MethodGet, "/explorer/assets", "", true},
		{"head", http.MethodHead, "/explorer", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, h, tc.method, tc.target, map[string]string{"Accept": tc.accept})
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200", rec.Code)
			}
			for k, want := range map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Content-Security-Policy": explorerCSP,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Cache-Control":           "no-cache",
			} {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			body := rec.Body.String()
			if !tc.wantBody {
				if body != "" {
					t.Errorf("HEAD returned a body of %d bytes", len(body))
				}
				return
			}
			for _, want := range []string{
				`<meta name="graphql-endpoint" content="/graphql">`,
				`<title>Pentographer GraphQL explorer</title>`,
				`Paste your <code>ptg_</code> API key or access token into the <strong>Headers</strong> tab`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %s", want)
				}
			}
		})
	}
}

func TestExplorerCSP(t *testing.T) {
	csp := serve(t, Explorer("/graphql"), http.MethodGet, "/explorer", nil).Header().Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src":     "'self'",
		"img-src":         "'self' data:",
		"style-src":       "'self' 'unsafe-inline'",
		"connect-src":     "'self'",
		"frame-ancestors": "'none'",
	} {
		if got := directives[name]; got != want {
			t.Errorf("CSP %s = %q, want %q (CSP: %s)", name, got, want, csp)
		}
	}
	// Scripts fall back to default-src: nothing may loosen them.
	if v, ok := directives["script-src"]; ok {
		t.Errorf("CSP sets script-src %q; scripts must fall back to default-src 'self'", v)
	}
}

func TestExplorerEndpointIsEscaped(t *testing.T) {
	tests := []struct{ endpoint, want string }{
		{"/api/graphql", `content="/api/graphql"`},
		{"", `content="/graphql"`},
		{`/q?a=1&b="2"><script>x</script>`, `content="/q?a=1&amp;b=&#34;2&#34;&gt;&lt;script&gt;x&lt;/script&gt;"`},
	}
	for _, tc := range tests {
		body := serve(t, Explorer(tc.endpoint), http.MethodGet, "/explorer", nil).Body.String()
		if !strings.Contains(body, `<meta name="graphql-endpoint" `+tc.want+`>`) {
			t.Errorf("Explorer(%q): page lacks %s", tc.endpoint, tc.want)
		}
		if strings.Contains(body, "<script>x") {
			t.Errorf("Explorer(%q): endpoint not escaped", tc.endpoint)
		}
	}
}

var (
	srcHref     = regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*["']?([^"'\s>]+)`)
	externalURL = regexp.MustCompile(`(?i)^(?:[a-z][a-z0-9+.-]*:)?//`)
	scriptTag   = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	assetTag    = regexp.MustCompile(`(?i)<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"`)
	cssURL      = regexp.MustCompile(`(?i)(?:url\(\s*["']?|@import\s+["'])([^"')\s]+)`)
)

// The page must work offline and under the CSP: no external script or style,
// no inline script, style or event handler.
func TestExplorerSourcesAreLocal(t *testing.T) {
	for _, file := range []string{"explorer/index.html", "explorer/explorer.js", "explorer/explorer.css"} {
		b, err := explorerFS.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		var refs []string
		for _, m := range srcHref.FindAllStringSubmatch(text, -1) {
			refs = append(refs, m[1])
		}
		for _, m := range cssURL.FindAllStringSubmatch(text, -1) {
			refs = append(refs, m[1])
		}
		for _, ref := range refs {
			if externalURL.MatchString(ref) {
				t.Errorf("%s references an external URL: %s", file, ref)
			}
		}
		if path.Ext(file) != ".html" {
			continue
		}
		for _, m := range scriptTag.FindAllStringSubmatch(text, -1) {
			if !strings.Contains(strings.ToLower(m[1]), "src=") || strings.TrimSpace(m[2]) != "" {
				t.Errorf("%s has an inline script: %q", file, m[0])
			}
		}
		for _, bad := range []*regexp.Regexp{
			regexp.MustCompile(`(?i)<style`),
			regexp.MustCompile(`(?i)\sstyle\s*=`),
			regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
			regexp.MustCompile(`(?i)javascript:`),
		} {
			if loc := bad.FindStringIndex(text); loc != nil {
				t.Errorf("%s has inline code or style (%s): %q", file, bad, text[loc[0]:min(loc[1]+40, len(text))])
			}
		}
	}
}

func TestExplorerReferencedAssets(t *testing.T) {
	h := Explorer("/graphql")
	page := serve(t, h, http.MethodGet, "/explorer", nil).Body.String()
	wantType := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
	}
	var n int
	for _, m := range assetTag.FindAllStringSubmatch(page, -1) {
		ref := m[1]
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		if !strings.HasPrefix(ref, ExplorerAssetsPath) {
			t.Errorf("page references %s, outside %s", ref, ExplorerAssetsPath)
			continue
		}
		n++
		t.Run(ref, func(t *testing.T) {
			if !strings.Contains(ref, "?v=") {
				t.Errorf("asset URL %s is not fingerprinted", ref)
			}
			rec := serve(t, h, http.MethodGet, ref, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200", rec.Code)
			}
			if rec.Body.Len() == 0 {
				t.Error("empty body")
			}
			ext := path.Ext(strings.SplitN(ref, "?", 2)[0])
			if got, want := rec.Header().Get("Content-Type"), wantType[ext]; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if got := rec.Header().Get("Cache-Control"); got != immutableCache {
				t.Errorf("Cache-Control = %q, want %q", got, immutableCache)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			// Revalidation with the ETag is answered with 304.
			etag := rec.Header().Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			if code := serve(t, h, http.MethodGet, ref, map[string]string{"If-None-Match": etag}).Code; code != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d, want 304", code)
			}
		})
	}
	// react, react-dom, graphiql js+css, explorer js+css.
	if n < 6 {
		t.Errorf("page references %d assets, want at least 6", n)
	}
}

func TestExplorerAssets(t *testing.T) {
	h := Explorer("/graphql")
	tests := []struct {
		name, method, target string
		wantCode             int
		wantType             string
		wantCache            string
	}{
		{"unversioned asset", http.MethodGet, "/explorer/assets/graphiql.min.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"stale version", http.MethodGet, "/explorer/assets/explorer.css?v=0000", 200, "text/css; charset=utf-8", "no-cache"},
		{"head asset", http.MethodHead, "/explorer/assets/react.production.min.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"versions manifest", http.MethodGet, "/explorer/assets/VERSIONS", 200, "text/plain; charset=utf-8", "no-cache"},
		{"graphiql licence", http.MethodGet, "/explorer/assets/licenses/graphiql.LICENSE", 200, "text/plain; charset=utf-8", "no-cache"},
		{"react licence", http.MethodGet, "/explorer/assets/licenses/react.LICENSE", 200, "text/plain; charset=utf-8", "no-cache"},
		{"react-dom licence", http.MethodGet, "/explorer/assets/licenses/react-dom.LICENSE", 200, "text/plain; charset=utf-8", "no-cache"},
		{"unknown asset", http.MethodGet, "/explorer/assets/nope.js", 404, "", ""},
		{"asset dir", http.MethodGet, "/explorer/assets/", 404, "", ""},
		{"licence dir", http.MethodGet, "/explorer/assets/licenses/", 404, "", ""},
		{"licence dir no slash", http.MethodGet, "/explorer/assets/licenses", 404, "", ""},
		{"traversal", http.MethodGet, "/explorer/assets/../index.html", 404, "", ""},
		{"not embedded", http.MethodGet, "/explorer/assets/../vendor.sh", 404, "", ""},
		{"post page", http.MethodPost, "/explorer", 405, "", ""},
		{"put asset", http.MethodPut, "/explorer/assets/graphiql.min.js", 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, h, tc.method, tc.target, nil)
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d", rec.Code, tc.wantCode)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			switch tc.wantCode {
			case http.StatusMethodNotAllowed:
				if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
					t.Errorf("Allow = %q", got)
				}
				return
			case http.StatusNotFound:
				if strings.Contains(rec.Body.String(), "<a href") {
					t.Error("404 looks like a directory listing")
				}
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tc.wantType)
			}
			if got := rec.Header().Get("Cache-Control"); got != tc.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.wantCache)
			}
			if tc.method == http.MethodGet && rec.Body.Len() == 0 {
				t.Error("empty body")
			}
			if tc.method == http.MethodHead && rec.Body.Len() != 0 {
				t.Error("HEAD returned a body")
			}
		})
	}
}

// assets/VERSIONS (written by vendor.sh) lists the sha256 of every vendored
// file: the embedded files must match it, and carry their licences.
func TestVendoredAssetsMatchVERSIONS(t *testing.T) {
	manifest, err := explorerFS.ReadFile("explorer/assets/VERSIONS")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	sumLine := regexp.MustCompile(`^([0-9a-f]{64})  (.+)$`)
	sc := bufio.NewScanner(strings.NewReader(string(manifest)))
	for sc.Scan() {
		if m := sumLine.FindStringSubmatch(sc.Text()); m != nil {
			listed[m[2]] = m[1]
		}
	}
	for _, pin := range []string{"graphiql@", "react@", "react-dom@"} {
		if !strings.Contains(string(manifest), "\n"+pin) {
			t.Errorf("VERSIONS does not pin %s", pin)
		}
	}
	seen := 0
	err = fs.WalkDir(explorerFS, "explorer/assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "explorer/assets/VERSIONS" {
			return err
		}
		name := strings.TrimPrefix(p, "explorer/assets/")
		b, err := explorerFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if want, ok := listed[name]; !ok {
			t.Errorf("%s is not listed in VERSIONS", name)
		} else if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: sha256 %s, VERSIONS says %s (re-run web/explorer/vendor.sh)", name, got, want)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(listed) {
		t.Errorf("VERSIONS lists %d files, assets/ has %d", len(listed), seen)
	}
	for _, f := range []string{"graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js",
		"licenses/graphiql.LICENSE", "licenses/react.LICENSE", "licenses/react-dom.LICENSE"} {
		if _, ok := listed[f]; !ok {
			t.Errorf("VERSIONS lacks %s", f)
		}
	}
}
