package auth

import (
	"time"

	"github.com/go-chi/httprate"
)

// lookupThrottle bounds the store lookups an address can cause with credentials
// the store does not know. A well-formed key passes the offline checksum and
// costs a lookup; anyone can make such keys (the checksum is public), and each
// unique one misses the cache. Past maxPerWindow such failures in a sliding
// window, an address gets errTooManyFailures for every credential that is not
// in the cache, without a lookup, so a flood costs about what requests without
// any credential do. Credentials in the cache (a working key, a refusal cached
// already) are answered as usual: a client retrying a revoked key does not
// lock its neighbours out. The counts live in this process.
type lookupThrottle struct {
	counter      httprate.LimitCounter
	window       time.Duration
	maxPerWindow int
}

// errTooManyFailures answers an address that is throttled.
var errTooManyFailures = &Error{Kind: KindRateLimited,
	Message: "too many unknown credentials from this address; retry later"}

func newLookupThrottle(maxPerWindow int, window time.Duration) *lookupThrottle {
	return &lookupThrottle{counter: httprate.NewLocalLimitCounter(window), window: window, maxPerWindow: maxPerWindow}
}

// allowed reports whether address may cause another lookup now.
func (t *lookupThrottle) allowed(address string, now time.Time) bool {
	if address == "" {
		return true
	}
	current := now.Truncate(t.window)
	curr, prev, _ := t.counter.Get(address, current, current.Add(-t.window))
	elapsed := float64(now.Sub(current)) / float64(t.window)
	return float64(prev)*(1-elapsed)+float64(curr) < float64(t.maxPerWindow)
}

// failed counts one lookup of address that found no usable credential.
func (t *lookupThrottle) failed(address string, now time.Time) {
	if address != "" {
		_ = t.counter.IncrementBy(address, now.Truncate(t.window), 1)
	}
}
