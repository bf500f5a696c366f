package server

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store/storetest"
)

// firstLoadBudget is the most a first visit of Workspace Settings may
// transfer: page, stylesheet, scripts and the API answers that fill it.
const firstLoadBudget = 150 << 10

// firstLoad is what one visit of /settings with an empty cache cost, as the
// page's own performance timeline records it.
type firstLoad struct {
	Bytes    float64 `json:"bytes"`    // transferred: every response, headers included
	Usable   float64 `json:"usable"`   // ms from the start of navigation until the lists are shown
	Requests float64 `json:"requests"` // responses, the page's included
}

// loadSettingsCold visits /settings with the browser cache off, waits until
// the page marks itself usable and reads the costs from the timeline.
func loadSettingsCold(tb *tab) firstLoad {
	tb.t.Helper()
	tb.do("disable the cache", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	}))
	tb.open("/settings")
	tb.waitFor("Workspace Settings", `document.body.dataset.ready === 'true'`)
	return evalIn[firstLoad](tb, `(function () {
		var nav = performance.getEntriesByType('navigation')[0];
		var all = [nav].concat(performance.getEntriesByType('resource'));
		return {
			bytes: all.reduce(function (n, e) { return n + e.transferSize; }, 0),
			usable: performance.getEntriesByName('pentographer:usable')[0].startTime,
			requests: all.length
		};
	})()`)
}

// settingsEnv is an organization with a realistic first page of credentials,
// signed in as its owner in a fresh browser.
func settingsEnv(t testing.TB) *tab {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	owner := e.bootstrap("Acme Security", "alice@acme.test")
	member := e.addMember(owner.slug, "bob@acme.test", auth.RoleMember)
	for _, name := range []string{"CI deploy", "billing sync", "nightly backup", "release bot", "metrics export"} {
		e.createKey(owner, name, nil)
		e.createKey(member, name+" (bob)", map[string]any{"scopes": []string{"keys:read"}})
	}
	for _, name := range []string{"Scanner", "Ticketing"} {
		e.createClient(owner, name, nil)
	}
	tb := newTab(t, e.http.URL, 1280, 800)
	signInAt(tb, owner.name, owner.password)
	return tb
}

func TestSettingsFirstLoadIsSmall(t *testing.T) {
	tb := settingsEnv(t)
	load := loadSettingsCold(tb)
	t.Logf("first load of /settings: %.0f bytes in %.0f responses, usable after %.0f ms", load.Bytes, load.Requests, load.Usable)
	t.Log(evalIn[string](tb, `performance.getEntriesByType('resource').map(function (e) { return e.name.replace(location.origin, '') + ' ' + Math.round(e.startTime) + '-' + Math.round(e.responseEnd) + ' ' + e.transferSize; }).join('\n')`))
	if load.Bytes > firstLoadBudget {
		t.Errorf("the first load transfers %.0f bytes, more than the budget of %d", load.Bytes, firstLoadBudget)
	}
	if load.Bytes == 0 || load.Requests < 5 {
		t.Errorf("the timeline looks empty: %+v", load)
	}
}

// BenchmarkSettingsFirstLoad measures a first visit of Workspace Settings on
// loopback with an empty cache: bytes transferred and milliseconds until the
// credentials are listed.
//
//	go test -run '^$' -bench SettingsFirstLoad -benchtime 20x ./server/
func BenchmarkSettingsFirstLoad(b *testing.B) {
	tb := settingsEnv(b)
	var bytes, usable float64
	b.ResetTimer()
	for range b.N {
		load := loadSettingsCold(tb)
		bytes += load.Bytes
		usable += load.Usable
	}
	b.ReportMetric(bytes/float64(b.N), "bytes/load")
	b.ReportMetric(usable/float64(b.N), "ms-to-usable")
}
