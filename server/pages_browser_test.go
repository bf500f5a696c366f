package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store/storetest"
)

// signInAt walks the sign-in page as a person does: /settings sends them to
// /login, they type their email and password and click Sign in, and land on
// Workspace Settings once it has listed their credentials.
func signInAt(tb *tab, email, password string) {
	tb.t.Helper()
	tb.open("/settings")
	tb.waitFor("the sign-in page", `location.pathname === '/login' && document.querySelector('#email') !== null`)
	tb.typeText("#email", email)
	tb.typeText("#password", password)
	tb.clickText("#login-form", "Sign in")
	tb.waitFor("Workspace Settings", `location.pathname === '/settings' && document.body.dataset.ready === 'true'`)
}

// listed is the text of a section's list.
func listed(tb *tab, section string) string {
	tb.t.Helper()
	return tb.textOf(section + " .table-wrap")
}

// shownSecret reads the value of the show-once dialog's field labelled label.
func shownSecret(tb *tab, label string) string {
	tb.t.Helper()
	return evalIn[string](tb, `(function () {
		var d = document.querySelector('dialog.secret-dialog[open]');
		var l = d && Array.from(d.querySelectorAll('label')).find(function (l) { return l.innerText.trim() === `+jsString(label)+`; });
		return l ? document.getElementById(l.htmlFor).value : '';
	})()`)
}

// copyShown clicks the Copy button of the show-once field labelled label and
// returns what the clipboard then holds.
func copyShown(tb *tab, label string) string {
	tb.t.Helper()
	tb.do("copy "+label, chromedp.Evaluate[chromedp.Void](`(function () {
		var d = document.querySelector('dialog.secret-dialog[open]');
		var l = Array.from(d.querySelectorAll('label')).find(function (l) { return l.innerText.trim() === `+jsString(label)+`; });
		l.closest('.field').querySelector('button').click();
	})()`))
	tb.waitFor("the copy to be confirmed", `document.querySelector('dialog.secret-dialog[open] .copied').innerText.includes('Copied')`)
	return tb.clipboard()
}

// inPage reports whether s is anywhere in the page's DOM, values of fields
// included.
func inPage(tb *tab, s string) bool {
	tb.t.Helper()
	return evalIn[bool](tb, `(function (s) {
		if (document.documentElement.outerHTML.includes(s)) return true;
		return Array.from(document.querySelectorAll('input, textarea')).some(function (f) { return f.value.includes(s); });
	})(`+jsString(s)+`)`)
}

// fitsWidth checks that the page does not scroll sideways and that every
// list fits its section.
func fitsWidth(tb *tab) {
	tb.t.Helper()
	if sw, w := evalIn[int](tb, `document.documentElement.scrollWidth`), evalIn[int](tb, `window.innerWidth`); sw > w {
		tb.t.Errorf("the page scrolls sideways: scrollWidth %d > %d", sw, w)
	}
	wide := evalIn[[]string](tb, `Array.from(document.querySelectorAll('.table-wrap')).filter(function (w) {
		return w.scrollWidth > w.clientWidth;
	}).map(function (w) { return w.id; })`)
	if len(wide) > 0 {
		tb.t.Errorf("lists wider than their section: %v", wide)
	}
}

// confirm answers the open confirmation dialog with its confirming button.
func confirm(tb *tab, word string) {
	tb.t.Helper()
	tb.waitFor("the confirmation", `document.querySelector('dialog.confirm[open]') !== null`)
	tb.clickText("dialog.confirm[open]", word)
	tb.waitFor("the confirmation to close", `document.querySelector('dialog.confirm') === null`)
}

func TestSignInAndAPIKeysInBrowser(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	owner := e.bootstrap("Acme Security", "alice@acme.test")
	member := e.addMember(owner.slug, "bob@acme.test", auth.RoleMember)
	e.createKey(member, "billing sync", map[string]any{"scopes": []string{"keys:read", "clients:read"}})
	e.createKey(owner, "nightly backup", map[string]any{"expiresAt": time.Now().AddDate(0, 3, 0).UTC().Format(time.RFC3339)})
	tb := newTab(t, e.http.URL, 1280, 800)
	tb.grantClipboard()

	t.Run("signed out, settings send you to sign in", func(t *testing.T) {
		tb := tb.in(t)
		tb.open("/settings")
		tb.waitFor("the sign-in page", `location.pathname === '/login'`)
		for _, label := range []string{"Email", "Password"} {
			if !evalIn[bool](tb, `Array.from(document.querySelectorAll('label')).some(function (l) { return l.innerText.trim() === `+jsString(label)+` && document.getElementById(l.htmlFor) })`) {
				t.Errorf("no field labelled %s", label)
			}
		}
		tb.screenshot("sign-in.png")
	})

	t.Run("a wrong password is said next to the form", func(t *testing.T) {
		tb := tb.in(t)
		tb.typeText("#email", owner.name)
		tb.typeText("#password", "not the password")
		tb.clickText("#login-form", "Sign in")
		tb.waitFor("the error", `document.getElementById('login-error').innerText.includes('not right')`)
		if tb.path() != "/login" {
			t.Errorf("at %s", tb.path())
		}
		tb.do("clear", chromedp.Evaluate[chromedp.Void](`document.getElementById('email').value = ''`))
	})

	signInAt(tb, owner.name, owner.password)

	t.Run("the keyboard opens and closes a dialog, and focus comes back", func(t *testing.T) {
		tb := tb.in(t)
		tb.do("focus New key", chromedp.Evaluate[chromedp.Void](`document.getElementById('new-key').focus()`))
		tb.do("press Enter", chromedp.KeyEvent(kb.Enter))
		tb.waitFor("the form, focused on Name", `document.getElementById('key-dialog').open && document.activeElement.id === 'key-name'`)
		tb.do("press Escape", chromedp.KeyEvent(kb.Escape))
		tb.waitFor("focus back on New key", `!document.getElementById('key-dialog').open && document.activeElement.id === 'new-key'`)
	})

	var secret string
	t.Run("New key, Name, Save: the dialog shows a ptg_ key once", func(t *testing.T) {
		tb := tb.in(t)
		tb.clickText("#api-keys", "New key")
		tb.waitFor("the form", `document.getElementById('key-dialog').open`)
		tb.typeText("#key-name", "CI deploy")
		tb.clickText("#key-dialog", "Save")
		tb.waitFor("the show-once dialog", `document.querySelector('dialog.secret-dialog[open]') !== null`)
		secret = shownSecret(tb, "API key")
		if !auth.ValidAPIKey(secret) {
			t.Fatalf("the dialog shows %q, not a ptg_ key", secret)
		}
		if text := tb.textOf("dialog.secret-dialog[open]"); !strings.Contains(text, "will not be shown again") {
			t.Errorf("the dialog does not say the key will not be shown again: %q", text)
		}
		tb.screenshot("show-once-key.png")
		if got := copyShown(tb, "API key"); got != secret {
			t.Errorf("the clipboard holds %q, want the key", got)
		}
	})

	t.Run("the key works", func(t *testing.T) {
		if r := e.gql(secret, `{ viewer { role } }`, nil).ok(t); r.str("viewer", "role") != "OWNER" {
			t.Errorf("role %q", r.str("viewer", "role"))
		}
	})

	t.Run("closing the dialog drops the key; after a reload it is listed by name only", func(t *testing.T) {
		tb := tb.in(t)
		tb.clickText("dialog.secret-dialog[open]", "Done")
		tb.waitFor("the dialog to go", `document.querySelector('dialog.secret-dialog') === null`)
		if inPage(tb, secret) {
			t.Error("the key is still in the page after the dialog closed")
		}
		tb.open("/settings")
		tb.waitFor("the list", `document.body.dataset.ready === 'true'`)
		list := listed(tb, "#api-keys")
		for _, want := range []string{"CI deploy", "nightly backup", "billing sync", "bob@acme.test", secret[:8] + "…" + secret[len(secret)-4:]} {
			if !strings.Contains(list, want) {
				t.Errorf("the list lacks %q:\n%s", want, list)
			}
		}
		if inPage(tb, secret) {
			t.Error("the key is in the page after a reload")
		}
		fitsWidth(tb)
		tb.screenshot("settings-keys.png")
	})

	t.Run("Revoke, confirmed: the next request with the key gets 401", func(t *testing.T) {
		tb := tb.in(t)
		tb.do("revoke", chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll('#keys-list tr')).find(function (tr) {
			return tr.innerText.includes('CI deploy');
		}).querySelector('.cell-actions button').click()`))
		confirm(tb, "Revoke")
		tb.waitFor("the row to go", `!document.getElementById('keys-list').innerText.includes('CI deploy')`)
		assertInvalidToken(t, e.gql(secret, `{ viewer { role } }`, nil))
	})

	t.Run("New client, Name, Save: id and secret shown once, and they get a token", func(t *testing.T) {
		tb := tb.in(t)
		tb.clickText("#oauth-clients", "New client")
		tb.waitFor("the form", `document.getElementById('client-dialog').open`)
		tb.typeText("#client-name", "Scanner")
		tb.clickText("#client-dialog", "Save")
		tb.waitFor("the show-once dialog", `document.querySelector('dialog.secret-dialog[open]') !== null`)
		id, sec := shownSecret(tb, "Client ID"), shownSecret(tb, "Client secret")
		if !strings.HasPrefix(id, "ptgc_") || !auth.ValidClientSecret(sec) {
			t.Fatalf("the dialog shows %q and %q", id, sec)
		}
		tb.screenshot("show-once-client.png")
		if got := copyShown(tb, "Client ID"); got != id {
			t.Errorf("the clipboard holds %q, want the client id", got)
		}
		if got := copyShown(tb, "Client secret"); got != sec {
			t.Errorf("the clipboard holds %q, want the client secret", got)
		}
		tb.clickText("dialog.secret-dialog[open]", "Done")
		tb.waitFor("the dialog to go", `document.querySelector('dialog.secret-dialog') === null`)
		if inPage(tb, sec) {
			t.Error("the client secret is still in the page")
		}

		r := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, sec)
		if r.Status != http.StatusOK {
			t.Fatalf("token: %d %s", r.Status, r.Body)
		}
		tok, _ := r.field("access_token").(string)
		if got := e.gql(tok, `{ viewer { role } }`, nil).ok(t).str("viewer", "role"); got != "OWNER" {
			t.Errorf("the token acts as %q", got)
		}

		tb.do("revoke", chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll('#clients-list tr')).find(function (tr) {
			return tr.innerText.includes('Scanner');
		}).querySelector('.cell-actions .btn-danger').click()`))
		confirm(tb, "Revoke")
		tb.waitFor("the row to go", `!document.getElementById('clients-list').innerText.includes('Scanner')`)
		assertInvalidToken(t, e.gql(tok, `{ viewer { role } }`, nil))
		if r := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, sec); r.Status != http.StatusUnauthorized {
			t.Errorf("token after revocation: %d %s", r.Status, r.Body)
		}
	})

	t.Run("Sign out ends the session", func(t *testing.T) {
		tb := tb.in(t)
		tb.clickText(".topbar", "Sign out")
		tb.waitFor("the sign-in page", `location.pathname === '/login' && document.querySelector('#email') !== null`)
		tb.open("/settings")
		tb.waitFor("the sign-in page", `location.pathname === '/login'`)
	})
}

func TestInviteAcceptAndRemoveInBrowser(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	owner := e.bootstrap("Acme Security", "alice@acme.test")
	e.addMember(owner.slug, "admin@acme.test", auth.RoleAdmin)
	alice := newTab(t, e.http.URL, 1280, 800)
	alice.grantClipboard()
	signInAt(alice, owner.name, owner.password)

	var link string
	t.Run("Invite, Email, Role, Save: the link is shown once", func(t *testing.T) {
		alice := alice.in(t)
		alice.waitFor("the members", `document.getElementById('members-list').innerText.includes('admin@acme.test')`)
		alice.clickText("#members", "Invite")
		alice.waitFor("the form", `document.getElementById('invite-dialog').open`)
		alice.typeText("#invite-email", "carol@acme.test")
		alice.do("choose Member", chromedp.SetValue(chromedp.CSS("#invite-role"), "MEMBER"))
		alice.clickText("#invite-dialog", "Save")
		alice.waitFor("the show-once dialog", `document.querySelector('dialog.secret-dialog[open]') !== null`)
		link = shownSecret(alice, "Invitation link")
		if !strings.HasPrefix(link, e.srv.cfg.PublicURL+"/invitation#") {
			t.Fatalf("the dialog shows %q, not an invitation link", link)
		}
		if got := copyShown(alice, "Invitation link"); got != link {
			t.Errorf("the clipboard holds %q", got)
		}
		alice.clickText("dialog.secret-dialog[open]", "Done")
		alice.waitFor("the dialog to go", `document.querySelector('dialog.secret-dialog') === null`)
		alice.waitFor("the pending invitation", `document.getElementById('invitations-list').innerText.includes('carol@acme.test')`)
		if inPage(alice, link) {
			t.Error("the link is still in the page")
		}
		alice.open("/settings")
		alice.waitFor("the pending invitation", `document.getElementById('invitations-list').innerText.includes('carol@acme.test')`)
		fitsWidth(alice)
		alice.do("scroll to Members", chromedp.Evaluate[chromedp.Void](`document.getElementById('members').scrollIntoView()`))
		alice.screenshot("members.png")
	})

	t.Run("Role, Save changes a member's role", func(t *testing.T) {
		alice := alice.in(t)
		row := `Array.from(document.querySelectorAll('#members-list tr')).find(function (tr) { return tr.innerText.includes('admin@acme.test'); })`
		alice.do("choose Member", chromedp.Evaluate[chromedp.Void](`(function () {
			var select = `+row+`.querySelector('select');
			select.value = 'MEMBER';
			select.dispatchEvent(new Event('change'));
		})()`))
		if got := evalIn[string](alice, row+`.querySelector('label').innerText`); got != "Role" {
			t.Errorf("the select is labelled %q", got)
		}
		alice.do("save", chromedp.Evaluate[chromedp.Void](row+`.querySelector('button.btn-primary').click()`))
		alice.waitFor("the new role", row+`.innerText.includes('Member') && `+row+`.querySelector('button.btn-primary').hidden`)
		r := e.gql(owner.key, `{ viewer { organization { members(first: 10) { edges { node { role user { email } } } } } } }`, nil).ok(t)
		if !strings.Contains(string(r.Body), `{"role":"MEMBER","user":{"email":"admin@acme.test"}}`) {
			t.Errorf("the role did not change: %s", r.Body)
		}
	})

	carol := newTab(t, e.http.URL, 1280, 800)
	t.Run("the link opens the invitation page; accepting signs in as MEMBER", func(t *testing.T) {
		carol := carol.in(t)
		carol.open(strings.TrimPrefix(link, e.srv.cfg.PublicURL))
		carol.waitFor("the invitation", `!document.getElementById('accept-form').hidden`)
		if got := carol.textOf("h1"); got != "Join Acme Security" {
			t.Errorf("h1 = %q", got)
		}
		if strings.Contains(evalIn[string](carol, `location.href`), "#") {
			t.Error("the token stays in the address bar")
		}
		carol.typeText("#name", "Carol")
		carol.typeText("#password", "a long enough password")
		carol.screenshot("invitation.png")
		carol.clickText("#accept-form", "Accept invitation")
		carol.waitFor("Workspace Settings", `location.pathname === '/settings' && document.body.dataset.ready === 'true'`)
		if got := carol.textOf("#org-role"); got != "MEMBER" {
			t.Errorf("role %q, want MEMBER", got)
		}
		if evalIn[bool](carol, `document.getElementById('members') !== null`) {
			t.Error("a MEMBER sees the Members section")
		}
	})

	t.Run("Remove, confirmed: their session answers 401 at once", func(t *testing.T) {
		alice := alice.in(t)
		carol := carol.in(t)
		alice.open("/settings")
		alice.waitFor("carol in the members", `document.getElementById('members-list').innerText.includes('carol@acme.test')`)
		alice.do("remove", chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll('#members-list tr')).find(function (tr) {
			return tr.innerText.includes('carol@acme.test');
		}).querySelector('.cell-actions button').click()`))
		confirm(alice, "Remove")
		alice.waitFor("the row to go", `!document.getElementById('members-list').innerText.includes('carol@acme.test')`)
		status := evalIn[int](carol, `fetch('/graphql', {method: 'POST', credentials: 'same-origin',
			headers: {'Content-Type': 'application/json'}, body: JSON.stringify({query: '{ viewer { role } }'})}).then(function (r) { return r.status })`,
			chromedp.EvalAwaitPromise)
		if status != http.StatusUnauthorized {
			t.Errorf("carol's session answers %d, want 401", status)
		}
		carol.open("/settings")
		carol.waitFor("the sign-in page", `location.pathname === '/login'`)
	})
}

func TestMemberOnAPhoneInBrowser(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	owner := e.bootstrap("Acme Security", "alice@acme.test")
	member := e.addMember(owner.slug, "bob@acme.test", auth.RoleMember)
	e.createKey(owner, "owner's deploy key", nil)
	e.createKey(member, "laptop scripts", map[string]any{"scopes": []string{"keys:read"}})
	c := e.createClient(owner, "owner's scanner", nil)
	tb := newTab(t, e.http.URL, 360, 740)
	signInAt(tb, member.name, member.password)

	page := tb.textOf("main")
	for _, want := range []string{"API Keys", "OAuth Clients", "laptop scripts", "Connect your AI editor", "Your account"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, hidden := range []string{"owner's deploy key", "owner's scanner", c.clientID, "alice@acme.test", "Audit log"} {
		if strings.Contains(page, hidden) {
			t.Errorf("a MEMBER sees %q", hidden)
		}
	}
	if evalIn[bool](tb, `document.getElementById('members') !== null || document.getElementById('audit-log') !== null`) {
		t.Error("a MEMBER has the Members or Audit log section")
	}
	fitsWidth(tb)
	tb.screenshot("settings-360.png")
	tb.darkMode()
	tb.open("/settings")
	tb.waitFor("Workspace Settings", `document.body.dataset.ready === 'true'`)
	tb.screenshot("settings-360-dark.png")
}

func TestDarkModeInBrowser(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	owner := e.bootstrap("Acme Security", "alice@acme.test")
	e.createKey(owner, "CI deploy", nil)
	tb := newTab(t, e.http.URL, 1280, 800)
	tb.darkMode()
	signInAt(tb, owner.name, owner.password)
	bg := evalIn[string](tb, `getComputedStyle(document.body).backgroundColor`)
	if bg != "rgb(16, 19, 23)" {
		t.Errorf("body background %s in dark mode", bg)
	}
	fitsWidth(tb)
	tb.screenshot("settings-dark.png")
}

func TestExplorerWithASessionInBrowser(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	owner := e.bootstrap("Acme Security", "alice@acme.test")
	tb := newTab(t, e.http.URL, 1280, 800)
	signInAt(tb, owner.name, owner.password)

	tb.open("/explorer")
	tb.waitFor("the schema", `document.getElementById('explorer-state').textContent === 'Schema loaded.'`)
	if hint := tb.textOf("#explorer-hint"); !strings.Contains(hint, "Signed in as alice@acme.test") || !strings.Contains(hint, "no key needed") {
		t.Errorf("hint = %q", hint)
	}
	typeInto(tb, queryEditor, "{ viewer { role authMethod } }")
	tb.click(executeButton)
	tb.waitFor("the answer", `document.querySelector('.graphiql-response').innerText.includes('SESSION')`)
	if !strings.Contains(tb.textOf(responsePane), "OWNER") {
		t.Errorf("the answer: %s", tb.textOf(responsePane))
	}
	for _, r := range tb.sent("/graphql") {
		if r.headers["authorization"] != "" {
			t.Errorf("a request carried Authorization %q; the session should do", r.headers["authorization"])
		}
	}
}

func TestConnectAnAIEditorInBrowser(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	owner := e.bootstrap("Acme Security", "alice@acme.test")
	tb := newTab(t, e.http.URL, 1280, 800)
	tb.grantClipboard()
	signInAt(tb, owner.name, owner.password)

	tb.do("choose Cursor", chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name="editor"][value="cursor"]').click()`))
	tb.waitFor("Cursor's settings", `document.getElementById('mcp-create').innerText.includes('Cursor') && document.getElementById('mcp-snippet').innerText.includes('ptg_your_key_here')`)
	tb.click("#mcp-create")
	tb.waitFor("the show-once dialog", `document.querySelector('dialog.secret-dialog[open]') !== null`)
	snippet := shownSecret(tb, "Settings for Cursor")
	if strings.Contains(snippet, "ptg_your_key_here") || !strings.Contains(snippet, e.srv.cfg.PublicURL+"/mcp") {
		t.Fatalf("the settings are not filled in:\n%s", snippet)
	}
	i := strings.Index(snippet, "ptg_")
	if i < 0 || len(snippet) < i+50 || !auth.ValidAPIKey(snippet[i:i+50]) {
		t.Fatalf("no key in the settings:\n%s", snippet)
	}
	key := snippet[i : i+50]
	if got := copyShown(tb, "Settings for Cursor"); got != snippet {
		t.Errorf("the clipboard holds %q", got)
	}
	r := e.gql(key, `{ viewer { scopes } }`, nil).ok(t)
	for _, s := range r.get("viewer", "scopes").([]any) {
		if !strings.HasSuffix(s.(string), ":read") {
			t.Errorf("the editor's key holds %s", s)
		}
	}
	tb.clickText("dialog.secret-dialog[open]", "Done")
	tb.waitFor("the dialog to go", `document.querySelector('dialog.secret-dialog') === null`)
	tb.waitFor("the key in the list", `document.getElementById('keys-list').innerText.includes('AI editor (Cursor)')`)
	if inPage(tb, key) {
		t.Error("the key stays in the page")
	}
}

func TestResetPasswordAndChooseAnOrganizationInBrowser(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	owner := e.bootstrap("Acme Security", "alice@acme.test")
	e.bootstrap("Globex", "bob@globex.test")
	e.addMember("globex", owner.name, auth.RoleAdmin)
	link, err := e.svc.IssuePasswordReset(context.Background(), owner.name)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil || u.Path != "/reset-password" || u.Fragment == "" {
		t.Fatalf("reset link %q", link)
	}
	at := u.Path + "#" + u.Fragment
	tb := newTab(t, e.http.URL, 1280, 800)
	tb.open(at)
	tb.waitFor("the form", `document.getElementById('password') !== null`)
	tb.typeText("#password", "short")
	tb.clickText("#reset-form", "Set password")
	tb.waitFor("the complaint", `document.getElementById('password-error').innerText.includes('12')`)
	tb.do("clear", chromedp.Evaluate[chromedp.Void](`document.getElementById('password').value = ''`))
	tb.typeText("#password", "a brand new password")
	tb.clickText("#reset-form", "Set password")
	tb.waitFor("the chooser", `!document.getElementById('chooser').hidden`)
	choices := tb.textOf("#chooser-list")
	for _, want := range []string{"Acme Security", "Globex", "OWNER", "ADMIN"} {
		if !strings.Contains(choices, want) {
			t.Errorf("the chooser lacks %s: %q", want, choices)
		}
	}
	tb.do("choose Globex", chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll('#chooser-list button')).find(function (b) {
		return b.innerText.includes('Globex');
	}).click()`))
	tb.waitFor("Workspace Settings", `location.pathname === '/settings' && document.body.dataset.ready === 'true'`)
	if got := tb.textOf("#org-name"); got != "Globex" {
		t.Errorf("signed in to %q", got)
	}

	// The new password signs in; the link does not work twice.
	e.browser().signIn(owner.name, "a brand new password")
	tb.open(at)
	tb.typeText("#password", "another new password")
	tb.clickText("#reset-form", "Set password")
	tb.waitFor("the refusal", `!document.getElementById('invalid').hidden`)
}
