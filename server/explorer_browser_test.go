package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pentographer/pentographer/store/storetest"
)

// GraphiQL's parts, by the classes and labels GraphiQL 3 gives them.
const (
	headersEditor = `.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror`
	queryEditor   = `.graphiql-query-editor .CodeMirror`
	docsButton    = `button[aria-label="Show Documentation Explorer"]`
	docExplorer   = `.graphiql-doc-explorer`
	executeButton = `.graphiql-execute-button`
	responsePane  = `.graphiql-response`
)

// editorValue is the text of the CodeMirror editor matching sel.
func editorValue(tb *tab, sel string) string {
	tb.t.Helper()
	return evalIn[string](tb, fmt.Sprintf(`(function () {
		var cm = document.querySelector(%s);
		return cm && cm.CodeMirror ? cm.CodeMirror.getValue() : '';
	})()`, jsString(sel)))
}

// typeInto replaces the content of the CodeMirror editor matching sel, the way
// a person does: click into it, select all, paste.
func typeInto(tb *tab, sel, text string) {
	tb.t.Helper()
	tb.do("type into "+sel,
		chromedp.Click(chromedp.CSS(sel+" .CodeMirror-lines")),
		selectAll(),
		tb.paste(text),
	)
}

func TestExplorerInBrowser(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	owner := e.bootstrap("Acme", "owner@acme.test")
	tb := newTab(t, e.http.URL, 1280, 800)

	tb.open("/explorer")
	tb.waitFor("GraphiQL", `document.querySelector('.graphiql-container') !== null`)
	tb.waitFor("the bearer mode", `document.getElementById('explorer-state').textContent === 'Waiting for a key.'`)

	t.Run("nothing is sent before a key is pasted", func(t *testing.T) {
		tb := tb.in(t)
		hint := tb.textOf("#explorer-hint")
		if !strings.Contains(hint, "Paste your ptg_ API key or access token into the Headers tab") {
			t.Errorf("hint = %q", hint)
		}
		if !evalIn[bool](tb, `(function(){var r=document.getElementById('explorer-hint').getBoundingClientRect();return r.width>0&&r.height>0})()`) {
			t.Error("the hint is not visible")
		}
		if got := editorValue(tb, headersEditor); !strings.Contains(got, "ptg_your_key_here") {
			t.Errorf("headers editor holds %q, want the placeholder", got)
		}
		// The page asked who is signed in (nobody), and nothing else.
		if len(tb.sent("/api/session")) != 1 {
			t.Errorf("the page asked /api/session %d times, want 1", len(tb.sent("/api/session")))
		}
		// Running a query without a key sends nothing either.
		tb.do("run without a key", chromedp.Click(chromedp.CSS(executeButton)))
		tb.waitFor("the explanation", `document.querySelector('.graphiql-response').innerText.includes('Nothing was sent')`)
		if n := len(tb.sent("/graphql")); n != 0 {
			t.Errorf("%d requests to /graphql left the page before a key was pasted", n)
		}
		if strings.Contains(e.logs.String(), `"path":"/graphql"`) {
			t.Error("the server saw a request to /graphql before a key was pasted")
		}
		if strings.Contains(tb.textOf(responsePane), "malformed") {
			t.Error("the results pane shows a malformed-credential error")
		}
	})

	t.Run("a malformed key is pointed out and not sent", func(t *testing.T) {
		tb := tb.in(t)
		typeInto(tb, headersEditor, `{"Authorization": "Bearer ptg_abc123"}`)
		tb.waitFor("the complaint", `document.getElementById('explorer-state').textContent.includes('not a complete ptg_ key')`)
		if n := len(tb.sent("/graphql")); n != 0 {
			t.Errorf("%d requests to /graphql with a malformed key", n)
		}
	})

	t.Run("a real key loads the schema by itself and runs queries", func(t *testing.T) {
		tb := tb.in(t)
		typeInto(tb, headersEditor, "{\n  \"Authorization\": \"Bearer "+owner.key+"\"\n}")
		tb.waitFor("the schema", `document.getElementById('explorer-state').textContent === 'Schema loaded.'`)
		tb.do("open the docs", chromedp.Click(chromedp.CSS(docsButton)))
		tb.waitFor("the docs", `(document.querySelector('.graphiql-doc-explorer') || {}).innerText?.includes('Mutation')`)
		docs := tb.textOf(docExplorer)
		for _, want := range []string{"Query", "Mutation"} {
			if !strings.Contains(docs, want) {
				t.Errorf("the docs pane lacks %s: %q", want, docs)
			}
		}

		typeInto(tb, queryEditor, "{\n  viewer {\n    role\n    user { email }\n    organization { name }\n  }\n}\n")
		tb.do("run", chromedp.Click(chromedp.CSS(executeButton)))
		tb.waitFor("the answer", `document.querySelector('.graphiql-response').innerText.includes('OWNER')`)

		sent := tb.sent("/graphql")
		if len(sent) < 2 { // introspection and the query
			t.Fatalf("%d requests to /graphql, want the introspection and the query", len(sent))
		}
		for _, r := range sent {
			if got := r.headers["authorization"]; got != "Bearer "+owner.key {
				t.Errorf("%s /graphql sent Authorization %q, want the pasted key", r.method, got)
			}
			if got := r.headers["content-type"]; got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
		}
		tb.screenshot("explorer.png")
	})

	t.Run("the key is not stored in the browser", func(t *testing.T) {
		tb := tb.in(t)
		stored := evalIn[string](tb, `JSON.stringify(Object.assign({}, window.localStorage))`)
		if strings.Contains(stored, owner.key) {
			t.Errorf("localStorage holds the key: %s", stored)
		}
	})
}

func TestNotFoundPageInBrowser(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	tb := newTab(t, e.http.URL, 360, 740)
	res := tb.navigateResponse("/no/such/page")
	if res != http.StatusNotFound {
		t.Errorf("status %d, want 404", res)
	}
	if got := evalIn[string](tb, `document.querySelector('h1').innerText`); got != "Page not found" {
		t.Errorf("h1 = %q", got)
	}
	links := evalIn[[]string](tb, `Array.from(document.querySelectorAll('main a')).map(function (a) { return a.getAttribute('href') })`)
	for _, want := range []string{"/settings", "/login", "/explorer"} {
		if !strings.Contains(strings.Join(links, " "), want) {
			t.Errorf("the page does not link %s: %v", want, links)
		}
	}
	// The stylesheet applied (no CSP violation is checked by the tab) and the
	// page fits a phone.
	if !evalIn[bool](tb, `getComputedStyle(document.querySelector('.card')).borderRadius === '12px'`) {
		t.Error("the stylesheet did not apply")
	}
	if !evalIn[bool](tb, `document.documentElement.scrollWidth <= window.innerWidth`) {
		t.Error("the page scrolls sideways at 360 px")
	}
}
