package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Assets are fingerprinted in the URLs that refer to them (?v=<hash>), so a
// response to the current fingerprint never changes and may be cached for a
// year; an unversioned or stale URL is revalidated every time.
const immutableCache = "public, max-age=31536000, immutable"

type asset struct {
	body        []byte
	contentType string
	version     string // hex prefix of the body's sha256, used in ?v= and the ETag
}

// assetSet is a group of embedded files served under one URL prefix.
type assetSet struct {
	prefix string // e.g. "/assets/"; ends with a slash
	files  map[string]asset
}

// newAssetSet reads files (URL name below prefix → path in fsys) into memory.
// JavaScript modules' relative imports ("./api.js") are rewritten to
// fingerprinted absolute URLs, so a module's hash covers the modules it
// imports and a change anywhere reaches the page's URLs. Any problem is a
// programming error in the embedded files and panics at start.
func newAssetSet(fsys fs.FS, prefix string, files map[string]string) *assetSet {
	s := &assetSet{prefix: prefix, files: map[string]asset{}}
	raw := map[string][]byte{}
	for name, file := range files {
		b, err := fs.ReadFile(fsys, file)
		if err != nil {
			panic(fmt.Sprintf("web: embedded %s: %v", file, err))
		}
		raw[name] = b
	}
	// Modules first reach their imports (depth first), so every import is
	// fingerprinted before the module that names it is hashed.
	const visiting = "visiting"
	state := map[string]string{}
	var add func(name string)
	add = func(name string) {
		switch state[name] {
		case "done":
			return
		case visiting:
			panic("web: import cycle through " + name)
		}
		state[name] = visiting
		body := raw[name]
		if path.Ext(name) == ".js" {
			body = moduleImport.ReplaceAllFunc(body, func(m []byte) []byte {
				sub := moduleImport.FindSubmatch(m)
				dep := path.Join(path.Dir(name), string(sub[3]))
				if _, ok := raw[dep]; !ok {
					panic(fmt.Sprintf("web: %s imports a missing module %s", name, dep))
				}
				add(dep)
				return []byte(string(sub[1]) + string(sub[2]) + s.url(dep) + string(sub[2]))
			})
		}
		sum := sha256.Sum256(body)
		s.files[name] = asset{body: body, contentType: contentType(name), version: hex.EncodeToString(sum[:8])}
		state[name] = "done"
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		add(name)
	}
	return s
}

// moduleImport matches a static import or re-export of a relative module:
// `from "./x.js"`, `import "./x.js"`, `export … from './x.js'`.
var moduleImport = regexp.MustCompile(`(\bfrom\s*|\bimport\s*)(["'])\./([A-Za-z0-9_./-]+\.js)["']`)

// url is the fingerprinted URL of the asset called name.
func (s *assetSet) url(name string) string {
	return s.prefix + name + "?v=" + s.files[name].version
}

// page fingerprints every src and href in html that points below the prefix.
func (s *assetSet) page(html string) string {
	ref := regexp.MustCompile(`((?:src|href)=")` + regexp.QuoteMeta(s.prefix) + `([^"?#]+)"`)
	return ref.ReplaceAllStringFunc(html, func(m string) string {
		sub := ref.FindStringSubmatch(m)
		if _, ok := s.files[sub[2]]; !ok {
			panic("web: a page references a missing asset: " + sub[2])
		}
		return sub[1] + s.url(sub[2]) + `"`
	})
}

// serve answers a request for the asset called name (the path below the
// prefix). A map lookup: no file system path is built from the request, so
// there is nothing to traverse and no directory to list.
func (s *assetSet) serve(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := s.files[name]
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

// walk lists every file below dir in fsys as URL name → path, names relative
// to dir.
func walk(fsys fs.FS, dir string, into map[string]string) {
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(p, dir+"/")
		if _, dup := into[name]; dup {
			panic("web: two embedded assets named " + name)
		}
		into[name] = p
		return nil
	})
	if err != nil {
		panic("web: walking embedded " + dir + ": " + err.Error())
	}
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	default: // VERSIONS, licences, READMEs
		return "text/plain; charset=utf-8"
	}
}

// htmlPage is a page's HTML with its validator, served to GET and HEAD.
type htmlPage struct {
	body []byte
	etag string
}

func newHTMLPage(body string) htmlPage {
	sum := sha256.Sum256([]byte(body))
	return htmlPage{body: []byte(body), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// serve writes the page with status (200 or an error status) under csp. The
// page is small and changes with the binary: always revalidate (cheap, with
// the ETag). Error pages are not cached and not revalidated.
func (p htmlPage) serve(w http.ResponseWriter, r *http.Request, status int, csp string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	if status != http.StatusOK {
		hdr.Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(p.body)
		}
		return
	}
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", p.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.body))
}
