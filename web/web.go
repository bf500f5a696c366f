// Package web serves Pentographer's browser pages: the GraphiQL query explorer,
// embedded in the binary with all its assets so it works without internet
// access (no CDN). The vendored assets come from pinned npm packages through
// explorer/vendor.sh; see explorer/README.md.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

// Only the files the page needs are embedded: not vendor.sh, README.md or the
// npm manifests that sit beside them.
//
//go:embed explorer/index.html explorer/explorer.js explorer/explorer.css explorer/assets
var explorerFS embed.FS

const (
	// ExplorerPath is the path of the explorer page.
	ExplorerPath = "/explorer"
	// ExplorerAssetsPath is the prefix of the explorer's assets. Every other
	// path given to the Explorer handler gets the page.
	ExplorerAssetsPath = "/explorer/assets/"

	// explorerCSP is the Content-Security-Policy of the page. Scripts come only
	// from 'self' (the page has no inline script). Beyond default-src 'self':
	//   - style-src 'unsafe-inline': GraphiQL's dialogs (react-remove-scroll via
	//     react-style-singleton) insert <style> elements at run time; scripts
	//     stay strict, so this only allows styling.
	//   - font-src data: and img-src data:: graphiql.min.css embeds its fonts
	//     (Roboto, Fira Code) and a few images as data: URLs.
	//   - connect-src 'self': queries go to the endpoint, a path on this origin.
	//   - frame-ancestors 'none', base-uri 'none', form-action 'none': no
	//     framing (clickjacking), no <base> hijack, no form posts; the page
	//     needs none of them.
	explorerCSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
		"font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

	// endpointMeta is the tag in index.html whose content Explorer replaces.
	endpointMeta = `<meta name="graphql-endpoint" content="/graphql">`

	// Assets are fingerprinted in the page's URLs (?v=<hash>), so a response to
	// the current fingerprint never changes and may be cached for a year.
	immutableCache = "public, max-age=31536000, immutable"
)

type asset struct {
	body        []byte
	contentType string
	version     string // hex prefix of the body's sha256, used in ?v= and the ETag
}

var (
	// explorerAssets maps a name below ExplorerAssetsPath ("graphiql.min.js",
	// "licenses/react.LICENSE", ...) to its content.
	explorerAssets = loadAssets()
	// explorerPage is index.html with its asset URLs fingerprinted.
	explorerPage = loadPage()
)

func loadAssets() map[string]asset {
	m := map[string]asset{}
	add := func(name, file string) {
		b, err := explorerFS.ReadFile(file)
		if err != nil {
			panic(fmt.Sprintf("web: embedded %s: %v", file, err))
		}
		if _, dup := m[name]; dup {
			panic("web: two embedded explorer assets named " + name)
		}
		sum := sha256.Sum256(b)
		m[name] = asset{body: b, contentType: contentType(name), version: hex.EncodeToString(sum[:8])}
	}
	// The page's own script and style, kept outside assets/ because vendor.sh
	// replaces that directory wholesale.
	add("explorer.js", "explorer/explorer.js")
	add("explorer.css", "explorer/explorer.css")
	err := fs.WalkDir(explorerFS, "explorer/assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		add(strings.TrimPrefix(p, "explorer/assets/"), p)
		return nil
	})
	if err != nil {
		panic("web: walking embedded explorer assets: " + err.Error())
	}
	return m
}

// assetRef matches a src or href attribute that points at an explorer asset.
var assetRef = regexp.MustCompile(`((?:src|href)=")` + regexp.QuoteMeta(ExplorerAssetsPath) + `([^"?#]+)"`)

func loadPage() string {
	b, err := explorerFS.ReadFile("explorer/index.html")
	if err != nil {
		panic("web: embedded explorer/index.html: " + err.Error())
	}
	page := string(b)
	if strings.Count(page, endpointMeta) != 1 {
		panic("web: explorer/index.html must contain " + endpointMeta + " exactly once")
	}
	return assetRef.ReplaceAllStringFunc(page, func(ref string) string {
		m := assetRef.FindStringSubmatch(ref)
		a, ok := explorerAssets[m[2]]
		if !ok {
			panic("web: explorer/index.html references a missing asset: " + m[2])
		}
		return m[1] + ExplorerAssetsPath + m[2] + "?v=" + a.version + `"`
	})
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	default: // VERSIONS, licences, READMEs
		return "text/plain; charset=utf-8"
	}
}

// Explorer returns the handler for the GraphiQL page (GET /explorer) and its assets
// (GET /explorer/assets/...). endpoint is the GraphQL URL path the page posts to.
//
// Requests under ExplorerAssetsPath get the embedded asset, or 404; every other
// path gets the page, so the handler can also answer GET /graphql for browsers
// (Accept: text/html). Mount it without stripping the prefix, e.g.
//
//	h := web.Explorer("/graphql")
//	mux.Handle("GET /explorer", h)
//	mux.Handle("GET /explorer/", h)
//
// Only GET and HEAD are allowed. endpoint should be a path on the same origin:
// the page's Content-Security-Policy only lets it connect to 'self'.
func Explorer(endpoint string) http.Handler {
	if endpoint == "" {
		endpoint = "/graphql"
	}
	page := []byte(strings.Replace(explorerPage, endpointMeta,
		`<meta name="graphql-endpoint" content="`+html.EscapeString(endpoint)+`">`, 1))
	sum := sha256.Sum256(page)
	return &explorerHandler{page: page, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

type explorerHandler struct {
	page []byte
	etag string
}

func (h *explorerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, ExplorerAssetsPath); ok {
		serveAsset(w, r, name)
		return
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", explorerCSP)
	hdr.Set("X-Frame-Options", "DENY")
	// The endpoint is filled in per handler and the page is small: always
	// revalidate (cheap, thanks to the ETag). The same URL (/graphql) may
	// answer API clients differently, hence Vary: Accept.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Add("Vary", "Accept")
	hdr.Set("ETag", h.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.page))
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	// A map lookup: no file system path is built from the request, so there
	// is nothing to traverse and no directory to list.
	a, ok := explorerAssets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	if r.URL.Query().Get("v") == a.version {
		hdr.Set("Cache-Control", immutableCache)
	} else {
		// Unversioned (or stale) URL: may change with the next binary.
		hdr.Set("Cache-Control", "no-cache")
	}
	hdr.Set("ETag", `"`+a.version+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
