// Package failures counts failed attempts (sign-ins, client authentications,
// unknown credentials) under several keys at once, in a sliding window, and
// says when a key has used up its allowance. The counts live in this process:
// each replica counts its own.
package failures

import (
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/httprate"
)

// Limit is one counter and its cap per window.
type Limit struct {
	Key string
	Max int
}

// Limiter counts in a sliding window: the current window's count plus the
// previous one's, weighted by how much of it still overlaps (go-chi/httprate's
// counter and estimate).
type Limiter struct {
	// mu makes Attempt's check and count one step, so parallel attempts
	// cannot all pass the check before any of them is counted, and orders
	// the counts around a window's turn.
	mu      sync.Mutex
	counter httprate.LimitCounter
	window  time.Duration
	now     func() time.Time
}

// New returns a Limiter with the given window.
func New(window time.Duration) *Limiter { return NewWithClock(window, time.Now) }

// NewWithClock returns a Limiter that reads the time from now.
func NewWithClock(window time.Duration, now func() time.Time) *Limiter {
	return &Limiter{counter: httprate.NewLocalLimitCounter(window), window: window, now: now}
}

// Blocked reports whether any of the limits is used up.
func (l *Limiter) Blocked(limits ...Limit) bool {
	now := l.now().UTC()
	for _, lim := range limits {
		if l.used(lim.Key, now) >= float64(lim.Max) {
			return true
		}
	}
	return false
}

// Fail counts one failure under every limit.
func (l *Limiter) Fail(limits ...Limit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	window := l.now().UTC().Truncate(l.window)
	for _, lim := range limits {
		_ = l.counter.IncrementBy(lim.Key, window, 1)
	}
}

// Attempt is an attempt counted in advance, as a failure until it succeeds.
type Attempt struct {
	l      *Limiter
	limits []Limit
	window time.Time
}

// Attempt counts one attempt under every limit, unless one of them is used up
// (then ok is false and nothing is counted). For attempts that take a while (a
// password check), counting before the work is what bounds a burst sent in
// parallel; Succeeded gives the attempt back.
func (l *Limiter) Attempt(limits ...Limit) (a *Attempt, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Blocked(limits...) {
		return nil, false
	}
	window := l.now().UTC().Truncate(l.window)
	for _, lim := range limits {
		_ = l.counter.IncrementBy(lim.Key, window, 1)
	}
	return &Attempt{l: l, limits: limits, window: window}, true
}

// Succeeded gives the attempt back. Once the window it was counted in has
// passed, there is nothing left to give back: it only weighs on the estimate
// as a share of the previous window.
func (a *Attempt) Succeeded() {
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	if a.l.now().UTC().Truncate(a.l.window) != a.window {
		return
	}
	for _, lim := range a.limits {
		_ = a.l.counter.IncrementBy(lim.Key, a.window, -1)
	}
}

// RetryAfter is the Retry-After of a refusal, in seconds: a full window, the
// longest a used-up key can take to recover.
func (l *Limiter) RetryAfter() string { return strconv.Itoa(int(l.window / time.Second)) }

// used estimates the key's count over the last window at now.
func (l *Limiter) used(key string, now time.Time) float64 {
	current := now.Truncate(l.window)
	curr, prev, _ := l.counter.Get(key, current, current.Add(-l.window))
	elapsed := float64(now.Sub(current)) / float64(l.window)
	return float64(prev)*(1-elapsed) + float64(curr)
}

// AddressKey is the part of a client address that failures are counted under:
// the address itself for IPv4, its /64 for IPv6, where one client commonly
// holds a whole /64 and could otherwise start afresh with every address.
func AddressKey(address string) string {
	a, err := netip.ParseAddr(address)
	if err != nil || a.Unmap().Is4() {
		return address
	}
	p, err := a.Prefix(64)
	if err != nil {
		return address
	}
	return p.String()
}
