package failures

import (
	"sync"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l := NewWithClock(time.Minute, func() time.Time { return now })
	lim := Limit{Key: "k", Max: 3}
	t.Run("failures_use_up_a_key", func(t *testing.T) {
		for range 3 {
			if l.Blocked(lim) {
				t.Fatal("blocked early")
			}
			l.Fail(lim)
		}
		if !l.Blocked(lim) || l.Blocked(Limit{Key: "other", Max: 3}) {
			t.Fatal("the count is wrong")
		}
		if _, ok := l.Attempt(lim, Limit{Key: "other", Max: 3}); ok {
			t.Fatal("an attempt passed a used-up key")
		}
		if l.Blocked(Limit{Key: "other", Max: 1}) {
			t.Fatal("a refused attempt was counted")
		}
	})
	t.Run("the_window_slides", func(t *testing.T) {
		now = now.Add(90 * time.Second) // half of the previous minute still weighs
		if l.Blocked(lim) {
			t.Fatal("still blocked a window and a half later")
		}
		now = now.Add(time.Minute)
		if l.used("k", now) != 0 {
			t.Fatal("old failures linger")
		}
	})
	t.Run("parallel_attempts_are_counted_before_they_finish", func(t *testing.T) {
		par := Limit{Key: "parallel", Max: 5}
		var mu sync.Mutex
		var attempts []*Attempt
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if a, ok := l.Attempt(par); ok {
					mu.Lock()
					attempts = append(attempts, a)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(attempts) != par.Max {
			t.Fatalf("%d of 50 parallel attempts passed, want %d", len(attempts), par.Max)
		}
		for _, a := range attempts {
			a.Succeeded()
		}
		if l.Blocked(par) || l.used("parallel", now) != 0 {
			t.Fatal("successful attempts were not given back")
		}
	})
	t.Run("a_success_in_a_later_window_gives_nothing_back", func(t *testing.T) {
		k := Limit{Key: "late", Max: 2}
		a, _ := l.Attempt(k)
		now = now.Add(time.Minute)
		a.Succeeded()
		if c, _, _ := l.counter.Get("late", now.Truncate(time.Minute), now.Truncate(time.Minute).Add(-time.Minute)); c < 0 {
			t.Fatal("the refund went below zero in the new window")
		}
	})
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"::ffff:203.0.113.7":   "::ffff:203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"not an address":       "not an address",
		"fe80::1%eth0":         "fe80::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
	} {
		if got := AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
}
