// Package web serves Pentographer's browser pages: sign-in, Workspace Settings,
// the invitation and password reset pages (pages/), and the GraphiQL query
// explorer (explorer/), embedded in the binary with all their assets so they
// work without internet access (no CDN). The explorer's vendored assets come
// from pinned npm packages through explorer/vendor.sh; see explorer/README.md.
package web

import (
	"embed"
	"html"
	"net/http"
	"strings"
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
)

var (
	// explorerAssets holds the explorer's script and style and the vendored
	// files, by their name below ExplorerAssetsPath ("graphiql.min.js",
	// "licenses/react.LICENSE", ...).
	explorerAssets = loadExplorerAssets()
	// explorerPage is index.html with its asset URLs fingerprinted.
	explorerPage = loadExplorerPage()
)

func loadExplorerAssets() *assetSet {
	// The page's own script and style sit outside assets/ because vendor.sh
	// replaces that directory wholesale.
	files := map[string]string{
		"explorer.js":  "explorer/explorer.js",
		"explorer.css": "explorer/explorer.css",
	}
	walk(explorerFS, "explorer/assets", files)
	return newAssetSet(explorerFS, ExplorerAssetsPath, files)
}

func loadExplorerPage() string {
	b, err := explorerFS.ReadFile("explorer/index.html")
	if err != nil {
		panic("web: embedded explorer/index.html: " + err.Error())
	}
	page := string(b)
	if strings.Count(page, endpointMeta) != 1 {
		panic("web: explorer/index.html must contain " + endpointMeta + " exactly once")
	}
	return explorerAssets.page(page)
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
	page := strings.Replace(explorerPage, endpointMeta,
		`<meta name="graphql-endpoint" content="`+html.EscapeString(endpoint)+`">`, 1)
	return &explorerHandler{page: newHTMLPage(page)}
}

type explorerHandler struct {
	page htmlPage
}

func (h *explorerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !allowGET(w, r) {
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, ExplorerAssetsPath); ok {
		explorerAssets.serve(w, r, name)
		return
	}
	// The same URL (/graphql) answers API clients differently, hence Vary.
	w.Header().Add("Vary", "Accept")
	h.page.serve(w, r, http.StatusOK, explorerCSP)
}

// allowGET answers 405 to anything but GET and HEAD, and sets the headers
// every response of this package carries.
func allowGET(w http.ResponseWriter, r *http.Request) bool {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	hdr.Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}
