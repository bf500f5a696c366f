package web

import (
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestPages(t *testing.T) {
	h := Pages()
	for _, c := range []struct {
		path, title string
		words       []string // «fixed» words of the page, as the product docs use them
	}{
		{LoginPath, "<title>Sign in · Pentographer</title>", []string{">Email</label>", ">Password</label>", ">Sign in</button>"}},
		{SettingsPath, "<title>Workspace Settings · Pentographer</title>", []string{
			">API Keys</h2>", ">OAuth Clients</h2>", ">Members</h2>", ">Audit log</h2>", ">Connect your AI editor</h2>",
			">Your account</h2>", ">New key</button>", ">New client</button>", ">Invite</button>", ">Sign out</button>",
			">Name</label>", ">Save</button>", ">Email</label>", ">Role</label>",
		}},
		{InvitationPath, "<title>Accept invitation · Pentographer</title>", []string{">Password</label>", ">Accept invitation</button>", `for="name">Name`}},
		{ResetPasswordPath, "<title>Set a new password · Pentographer</title>", []string{">New password</label>", ">Set password</button>"}},
	} {
		t.Run(c.path, func(t *testing.T) {
			rec := serve(t, h, http.MethodGet, c.path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			for k, want := range map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Content-Security-Policy": pagesCSP,
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Referrer-Policy":         "no-referrer",
				"Cache-Control":           "no-cache",
			} {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			body := rec.Body.String()
			for _, want := range append([]string{c.title}, c.words...) {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
			// Revalidation with the ETag is answered with 304.
			if code := serve(t, h, http.MethodGet, c.path, map[string]string{"If-None-Match": rec.Header().Get("ETag")}).Code; code != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d, want 304", code)
			}
		})
	}
	t.Run("another path is the not-found page", func(t *testing.T) {
		rec := serve(t, h, http.MethodGet, "/login/other", nil)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "Page not found") {
			t.Fatalf("status %d: %.200s", rec.Code, rec.Body.String())
		}
	})
	t.Run("only GET and HEAD", func(t *testing.T) {
		if code := serve(t, h, http.MethodPost, LoginPath, nil).Code; code != http.StatusMethodNotAllowed {
			t.Fatalf("POST: status %d", code)
		}
	})
}

func TestPagesCSP(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(pagesCSP, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
		"connect-src": "'self'", "frame-ancestors": "'none'", "base-uri": "'none'", "form-action": "'self'",
	} {
		if got := directives[name]; got != want {
			t.Errorf("CSP %s = %q, want %q", name, got, want)
		}
	}
	if strings.Contains(pagesCSP, "unsafe") {
		t.Errorf("the pages' CSP allows something unsafe: %s", pagesCSP)
	}
}

// The pages must run under their CSP and offline: no inline script, style or
// event handler, nothing from another origin, and no HTML built from
// strings in the scripts.
func TestPagesSourcesAreLocal(t *testing.T) {
	var files []string
	err := fs.WalkDir(pagesFS, "pages", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	unsafeJS := regexp.MustCompile(`\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*['"]style|\.style\.`)
	for _, file := range files {
		b, err := pagesFS.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range srcHref.FindAllStringSubmatch(text, -1) {
			if externalURL.MatchString(m[1]) {
				t.Errorf("%s references an external URL: %s", file, m[1])
			}
		}
		for _, m := range cssURL.FindAllStringSubmatch(text, -1) {
			if externalURL.MatchString(m[1]) {
				t.Errorf("%s references an external URL: %s", file, m[1])
			}
		}
		switch path.Ext(file) {
		case ".html":
			for _, m := range scriptTag.FindAllStringSubmatch(text, -1) {
				if !strings.Contains(strings.ToLower(m[1]), "src=") || strings.TrimSpace(m[2]) != "" {
					t.Errorf("%s has an inline script: %q", file, m[0])
				}
			}
			for _, bad := range []*regexp.Regexp{
				regexp.MustCompile(`(?i)<style`), regexp.MustCompile(`(?i)\sstyle\s*=`),
				regexp.MustCompile(`(?i)\son[a-z]+\s*=`), regexp.MustCompile(`(?i)javascript:`),
			} {
				if loc := bad.FindStringIndex(text); loc != nil {
					t.Errorf("%s has inline code or style (%s): %q", file, bad, text[loc[0]:min(loc[1]+40, len(text))])
				}
			}
		case ".js":
			if loc := unsafeJS.FindStringIndex(text); loc != nil {
				t.Errorf("%s builds HTML or styles from strings: %q", file, text[loc[0]:min(loc[1]+40, len(text))])
			}
		}
	}
}

// Every asset a page names is served, fingerprinted, cacheable for a year;
// the modules' imports are fingerprinted too, so a change anywhere reaches
// the page's URLs.
func TestPageAssetsAreFingerprinted(t *testing.T) {
	h := Pages()
	seen := map[string]bool{}
	var visit func(ref string)
	visit = func(ref string) {
		if seen[ref] {
			return
		}
		seen[ref] = true
		if !strings.HasPrefix(ref, AssetsPath) || !strings.Contains(ref, "?v=") {
			t.Errorf("%s is not a fingerprinted asset URL", ref)
			return
		}
		rec := serve(t, h, http.MethodGet, ref, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("%s: status %d", ref, rec.Code)
			return
		}
		if got := rec.Header().Get("Cache-Control"); got != immutableCache {
			t.Errorf("%s: Cache-Control %q", ref, got)
		}
		if strings.HasSuffix(strings.SplitN(ref, "?", 2)[0], ".js") {
			body := rec.Body.String()
			if m := regexp.MustCompile(`from\s*['"]\./`).FindString(body); m != "" {
				t.Errorf("%s has an unrewritten relative import: %s", ref, m)
			}
			for _, m := range regexp.MustCompile(`(?:from|import)\s*['"]([^'"]+)['"]`).FindAllStringSubmatch(body, -1) {
				visit(m[1])
			}
		}
	}
	for p := range pagePaths {
		body := serve(t, h, http.MethodGet, p, nil).Body.String()
		for _, m := range assetTag.FindAllStringSubmatch(body, -1) {
			if !strings.HasPrefix(m[1], "data:") {
				visit(m[1])
			}
		}
	}
	for _, want := range []string{"app.css", "api.js", "ui.js", "settings.js", "login.js"} {
		found := false
		for ref := range seen {
			found = found || strings.HasPrefix(ref, AssetsPath+want+"?v=")
		}
		if !found {
			t.Errorf("no page loads %s", want)
		}
	}
	// Every embedded asset is used by some page.
	for name := range pageAssets.files {
		found := false
		for ref := range seen {
			found = found || strings.HasPrefix(ref, AssetsPath+name+"?v=")
		}
		if !found {
			t.Errorf("assets/%s is embedded but no page loads it", name)
		}
	}
}

func TestModuleImportsAreRewritten(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	fsys := fstest.MapFS{
		"a.js": file("import { b } from './b.js';\nimport './c.js';\nexport { x } from \"./c.js\";\n"),
		"b.js": file("import { c } from './c.js'; export const b = c;"),
		"c.js": file("export const c = 1;"),
	}
	s := newAssetSet(fsys, "/assets/", map[string]string{"a.js": "a.js", "b.js": "b.js", "c.js": "c.js"})
	a := string(s.files["a.js"].body)
	for _, want := range []string{
		`from '` + s.url("b.js") + `'`, `import '` + s.url("c.js") + `'`, `from "` + s.url("c.js") + `"`,
	} {
		if !strings.Contains(a, want) {
			t.Errorf("a.js lacks %s:\n%s", want, a)
		}
	}
	// c changes → b's and a's fingerprints change.
	fsys["c.js"] = file("export const c = 2;")
	s2 := newAssetSet(fsys, "/assets/", map[string]string{"a.js": "a.js", "b.js": "b.js", "c.js": "c.js"})
	for _, name := range []string{"a.js", "b.js", "c.js"} {
		if s.files[name].version == s2.files[name].version {
			t.Errorf("%s kept its fingerprint when a module it imports changed", name)
		}
	}
}
