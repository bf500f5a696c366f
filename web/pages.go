package web

import (
	"embed"
	"net/http"
	"strings"
)

// The pages people use in a browser: plain HTML, one stylesheet and small
// JavaScript modules, no build step. Each page is a client of the GraphQL API
// and of the server's JSON endpoints; none holds any data of its own.
//
//go:embed pages
var pagesFS embed.FS

const (
	// AssetsPath is the prefix of the pages' scripts and stylesheet.
	AssetsPath = "/assets/"

	// pagesCSP is the pages' Content-Security-Policy: everything from 'self'
	// only, no inline script or style anywhere, no framing, no <base>, forms
	// only to this origin. Images may be data: URLs (the favicon).
	pagesCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

// The pages' paths.
const (
	LoginPath         = "/login"
	SettingsPath      = "/settings"
	InvitationPath    = "/invitation"
	ResetPasswordPath = "/reset-password"
)

// pagePaths maps each page's URL path to its file.
var pagePaths = map[string]string{
	LoginPath:         "pages/login.html",
	SettingsPath:      "pages/settings.html",
	InvitationPath:    "pages/invitation.html",
	ResetPasswordPath: "pages/reset-password.html",
}

var (
	pageAssets   = newPageAssets()
	pagesByPath  = loadPages()
	notFoundPage = loadPage("pages/notfound.html")
)

func newPageAssets() *assetSet {
	files := map[string]string{}
	walk(pagesFS, "pages/assets", files)
	return newAssetSet(pagesFS, AssetsPath, files)
}

func loadPage(file string) htmlPage {
	b, err := pagesFS.ReadFile(file)
	if err != nil {
		panic("web: embedded " + file + ": " + err.Error())
	}
	return newHTMLPage(pageAssets.page(string(b)))
}

func loadPages() map[string]htmlPage {
	m := map[string]htmlPage{}
	for p, file := range pagePaths {
		m[p] = loadPage(file)
	}
	return m
}

// Pages returns the handler of the pages and their assets (GET and HEAD):
//
//	/login            sign in (and choose an organization)
//	/settings         Workspace Settings
//	/invitation       accept an invitation (/invitation#<token>)
//	/reset-password   set a new password (/reset-password#<token>)
//	/assets/…         the stylesheet and scripts, fingerprinted (?v=) in the pages
//
// Any other path gets the not-found page with status 404. Mount it on each
// page's path and on AssetsPath without stripping the prefix, e.g.
//
//	pages := web.Pages()
//	mux.Handle("GET /login", pages)
//	mux.Handle("GET /assets/", pages)
//
// The pages hold no data: each asks the server who is signed in and reads
// the rest from the GraphQL API, so serving them needs no session. Redirecting
// a signed-out person from /settings to /login is the server's business.
func Pages() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowGET(w, r) {
			return
		}
		if name, ok := strings.CutPrefix(r.URL.Path, AssetsPath); ok {
			pageAssets.serve(w, r, name)
			return
		}
		if p, ok := pagesByPath[r.URL.Path]; ok {
			p.serve(w, r, http.StatusOK, pagesCSP)
			return
		}
		notFoundPage.serve(w, r, http.StatusNotFound, pagesCSP)
	})
}

// NotFound returns the handler of the 404 page people see in a browser: a
// short note with links to the pages that exist. API clients should get a
// JSON error instead; the caller decides (by the Accept header).
func NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Referrer-Policy", "no-referrer")
		notFoundPage.serve(w, r, http.StatusNotFound, pagesCSP)
	})
}
