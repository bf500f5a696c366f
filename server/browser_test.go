package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive the real pages in headless Chromium against a real
// server over a real store. They test the pages, not the store, so they run on
// SQLite only.
//
//   - Chromium is found as PTG_TEST_CHROMIUM, or chromium, chromium-browser or
//     google-chrome on PATH. Without it the tests skip, unless
//     PTG_TEST_BROWSER=required (CI sets it), when they fail.
//   - PTG_TEST_SCREENSHOTS=DIR saves the screenshots the tests take in DIR
//     (docs/screenshots is where the docs expect them).
const (
	envBrowser     = "PTG_TEST_BROWSER"
	envChromium    = "PTG_TEST_CHROMIUM"
	envScreenshots = "PTG_TEST_SCREENSHOTS"

	// stepTimeout bounds each browser step: a page that never gets there
	// fails the test instead of hanging it.
	stepTimeout = 20 * time.Second
)

// chromiumPath finds the browser or skips (fails, when required) the test.
func chromiumPath(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv(envChromium), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no Chromium found (set " + envChromium + " or install chromium): skipping the browser test"
	if os.Getenv(envBrowser) == "required" {
		t.Fatal(msg + "; " + envBrowser + "=required")
	}
	t.Skip(msg)
	return ""
}

// tab is one headless Chromium, with one tab, for one test. It records the
// requests the page sends and every script error, console error and CSP
// violation; a test fails at its end if the page had any.
type tab struct {
	t    testing.TB // the test that fails when a step does
	ctx  context.Context
	base string // the server's URL, e.g. http://127.0.0.1:1234
	rec  *recording
}

// recording is what the page did, shared by every view of the tab.
type recording struct {
	mu       sync.Mutex
	requests []sentRequest
	problems []string
}

// in is the same tab with its failures reported to t (a subtest).
func (tb *tab) in(t *testing.T) *tab {
	c := *tb
	c.t = t
	return &c
}

type sentRequest struct {
	method, url string
	headers     map[string]string
}

// newTab starts Chromium at a width×height viewport for a test of the server
// at base.
func newTab(t testing.TB, base string, width, height int64) *tab {
	t.Helper()
	exe := chromiumPath(t)
	// Not t.TempDir: Chromium's helpers may still write there for a moment
	// after it stops, which would fail the test's own cleanup.
	dir, err := os.MkdirTemp("", "ptg-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(int(width), int(height)),
		// No traffic but to the test server: without these Chromium keeps
		// trying to reach its own services.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tb := &tab{t: t, base: base, rec: &recording{}}
	ctx, cancel := chromedp.NewContext(allocCtx,
		chromedp.WithListener(tb.listen),
		chromedp.WithErrorf(func(format string, args ...any) { t.Logf("chromedp: "+format, args...) }),
	)
	tb.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(tb.checkProblems)
	return tb
}

func (tb *tab) listen(ev any) {
	rec := tb.rec
	rec.mu.Lock()
	defer rec.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		h := map[string]string{}
		for k, v := range ev.Request.Headers {
			h[strings.ToLower(k)] = fmt.Sprint(v)
		}
		rec.requests = append(rec.requests, sentRequest{method: ev.Request.Method, url: ev.Request.URL, headers: h})
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		rec.problems = append(rec.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			rec.problems = append(rec.problems, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	case *cdplog.EventEntryAdded:
		// Failed loads (the 401 of a signed-out session check, a 404 the
		// test asked for) are the network's business, not the page's.
		if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
			rec.problems = append(rec.problems, "log ("+string(ev.Entry.Source)+"): "+ev.Entry.Text)
		}
	}
}

func (tb *tab) checkProblems() {
	tb.rec.mu.Lock()
	defer tb.rec.mu.Unlock()
	for _, p := range tb.rec.problems {
		tb.t.Errorf("the page reported a problem: %s", p)
	}
}

// sent returns the requests sent so far whose path is p.
func (tb *tab) sent(p string) []sentRequest {
	tb.rec.mu.Lock()
	defer tb.rec.mu.Unlock()
	var out []sentRequest
	for _, r := range tb.rec.requests {
		if u, err := url.Parse(r.url); err == nil && u.Path == p {
			out = append(out, r)
		}
	}
	return out
}

// do runs steps, each within stepTimeout, and fails the test on an error.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to a path of the server.
func (tb *tab) open(p string) {
	tb.t.Helper()
	tb.do("open "+p, chromedp.Navigate(tb.base+p))
}

// navigateResponse navigates to a path and returns the HTTP status of the page.
func (tb *tab) navigateResponse(p string) int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(tb.base+p))
	if err != nil {
		tb.t.Fatalf("open %s: %v", p, err)
	}
	return res.Status
}

// eval evaluates a JavaScript expression and decodes its value into T.
func evalIn[T any](tb *tab, expr string, opts ...chromedp.EvaluateOption) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript expression is truthy. It asks again
// every 25 ms, across navigations (a page that is loading answers with an
// error, which only counts if it is still the answer at the end).
func (tb *tab) waitFor(what, expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(25 * time.Millisecond)
	}
	tb.t.Fatalf("waiting for %s: %s still false after %s (last error: %v)", what, expr, stepTimeout, last)
}

// textOf is the visible text of the first element matching a CSS selector
// ("" when there is none).
func (tb *tab) textOf(sel string) string {
	tb.t.Helper()
	return evalIn[string](tb, fmt.Sprintf(`(document.querySelector(%s) || {}).innerText || ''`, jsString(sel)))
}

// paste puts text where the keyboard focus is, as a paste would: it replaces
// the selection and fires the input events, without the editors' automatic
// bracket closing that typing character by character triggers.
func (tb *tab) paste(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}

// selectAll is Ctrl+A in the focused element.
func selectAll() chromedp.Action[chromedp.Void] {
	return chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl))
}

// screenshot saves the viewport as PNG in PTG_TEST_SCREENSHOTS, if set.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// click clicks the first element matching a CSS selector, once it is visible.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// typeText types text into the field matching sel, key by key.
func (tb *tab) typeText(sel, text string) {
	tb.t.Helper()
	tb.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// clickText clicks the first button or link within scope (a CSS selector)
// whose visible text is exactly text, as a person finds it by its words.
func (tb *tab) clickText(scope, text string) {
	tb.t.Helper()
	find := fmt.Sprintf(`Array.from(document.querySelectorAll(%s + ' button, ' + %s + ' a')).find(function (b) {
		return b.innerText.trim() === %s && b.offsetParent !== null;
	})`, jsString(scope), jsString(scope), jsString(text))
	tb.waitFor(fmt.Sprintf("a %q button in %s", text, scope), find+` !== undefined`)
	tb.do("click "+text, chromedp.Evaluate[chromedp.Void](find+`.click()`))
}

// path is the path of the page the tab shows.
func (tb *tab) path() string {
	tb.t.Helper()
	return evalIn[string](tb, `location.pathname`)
}

// grantClipboard lets the page write and read the clipboard, as a person
// allows it in the browser.
func (tb *tab) grantClipboard() {
	tb.t.Helper()
	tb.do("grant the clipboard", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for _, name := range []string{"clipboard-read", "clipboard-write"} {
			_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
				Permission: &cdpbrowser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
				Setting:    cdpbrowser.PermissionSettingGranted, Origin: tb.base,
			})
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// clipboard is what the clipboard holds.
func (tb *tab) clipboard() string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("read the clipboard: %v", err)
	}
	return v
}

// darkMode makes the page see prefers-color-scheme: dark.
func (tb *tab) darkMode() {
	tb.t.Helper()
	tb.do("dark mode", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	}))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
