package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pentographer/pentographer/store/storetest"
)

func TestValidName(t *testing.T) {
	cases := []struct {
		name, value string
		ok          bool
	}{
		{"plain", "CI deploy key", true},
		{"quotes and SQL", `Robert'); DROP TABLE api_keys;--"`, true},
		{"HTML", `<script>alert(1)</script>`, true},
		{"emoji with joiner", "👩‍💻 laptop", true},
		{"joiner after a skin tone", "👩🏽‍💻 laptop", true},
		{"joiner after a presentation selector", "🏳️‍🌈 flag", true},
		{"100 characters", strings.Repeat("é", 100), true},
		{"empty", "", false},
		{"blank", "   \t ", false},
		{"101 characters", strings.Repeat("a", 101), false},
		{"NUL", "a\x00b", false},
		{"newline", "a\nb", false},
		{"escape", "a\x1b[31mb", false},
		{"DEL", "a\x7fb", false},
		{"right-to-left override", "invoice\u202Etxt.exe", false},
		{"isolate", "a\u2066b", false},
		{"byte order mark", "\uFEFFkey", false},
		{"invalid UTF-8", "a\xffb", false},
		{"zero-width space", "adm\u200Bin", false},
		{"zero-width joiner between letters", "a\u200Db", false},
		{"joiner at the start", "\u200D👩", false},
		{"soft hyphen", "pass\u00ADword", false},
		{"word joiner", "a\u2060b", false},
		{"Arabic letter mark", "a\u061Cb", false},
		{"tag character", "a\U000E0041b", false},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			err := validName("name", c.value)
			if c.ok != (err == nil) {
				t.Fatalf("validName(%q) = %v, want ok=%v", c.value, err, c.ok)
			}
			if err != nil && KindOf(err) != KindInvalid {
				t.Fatalf("kind %v", KindOf(err))
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	c, err := NewCatalog([]string{"findings:read", "scans:write"})
	if err != nil {
		t.Fatal(err)
	}
	member := c.ForRole(RoleMember)
	for _, s := range []string{"keys:read", "keys:write", "clients:read", "clients:write", "findings:read", "scans:write"} {
		if !member.Has(s) {
			t.Errorf("MEMBER lacks %s", s)
		}
	}
	for _, s := range []string{"members:read", "members:write", "audit:read"} {
		if member.Has(s) {
			t.Errorf("MEMBER may use %s", s)
		}
		if !c.ForRole(RoleAdmin).Has(s) || !c.ForRole(RoleOwner).Has(s) {
			t.Errorf("ADMIN/OWNER lack %s", s)
		}
	}
	for _, bad := range [][]string{{"keys:read"}, {"has space"}, {`quo"te`}, {""}, {strings.Repeat("x", 65)}, {"a", "a"}} {
		if _, err := NewCatalog(bad); err == nil {
			t.Errorf("NewCatalog(%q) accepted", bad)
		}
	}
}

func TestRolesAreOrdered(t *testing.T) {
	if !(RoleOwner > RoleAdmin && RoleAdmin > RoleMember && RoleMember > RoleNone) {
		t.Fatal("roles out of order")
	}
	for _, s := range []string{"owner", "ADMIN", " Member "} {
		if _, err := ParseRole(s); err != nil {
			t.Errorf("ParseRole(%q): %v", s, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole(root) accepted")
	}
}

func TestPasswordHashing(t *testing.T) {
	pw, err := newPassword()
	if err != nil {
		t.Fatal(err)
	}
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, pw) {
		t.Fatalf("hash %q", h)
	}
	if !CheckPassword(pw, h) || CheckPassword(pw+"x", h) || CheckPassword(pw, "garbage") {
		t.Fatal("CheckPassword is wrong")
	}
}

// Password work queues to a bound: past it a check is refused at once, and a
// waiter whose request is gone leaves the queue.
func TestPasswordWorkQueuesToABound(t *testing.T) {
	w := &passwordWork{slots: make(chan struct{}, 1), maxWaiting: 1}
	release, err := w.turn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() {
		_, err := w.turn(ctx)
		waited <- err
	}()
	for w.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := w.turn(context.Background()); !errors.Is(err, errPasswordsBusy) {
		t.Fatalf("a full queue answered %v", err)
	}
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiter whose request went away: %v", err)
	}
	release()
	if _, err := w.turn(context.Background()); err != nil {
		t.Fatalf("after the queue drained: %v", err)
	}
}

func TestFirstStartIsSafeWhenReplicasRace(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			st := storetest.Open(t, backend)
			svc := NewService(st, Options{PasswordCost: PasswordCost{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}})
			var wg sync.WaitGroup
			results := make(chan *Enrollment, 4)
			for range 4 {
				wg.Go(func() {
					e, err := svc.BootstrapIfEmpty(context.Background(), "First", "owner@first.test")
					if err != nil {
						t.Errorf("replica failed: %v", err)
					}
					results <- e
				})
			}
			wg.Wait()
			close(results)
			created := 0
			for e := range results {
				if e != nil {
					created++
				}
			}
			if created != 1 {
				t.Fatalf("%d replicas bootstrapped", created)
			}
		})
	}
}
