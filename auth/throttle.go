package auth

import (
	"time"

	"github.com/pentographer/pentographer/internal/failures"
)

// lookupThrottle bounds the store lookups an address can cause with credentials
// the store does not have. A well-formed key passes the offline checksum and
// costs a lookup; anyone can make such keys (the checksum is public), and each
// unique one misses the cache. Past maxPerWindow such misses in a sliding
// window, an address gets errTooManyFailures for every credential that is not
// in the cache, without a lookup, so a flood costs about what requests without
// any credential do. Only credentials the store does not have count: a revoked
// or expired one is a client's mistake, not a search, and retrying it must not
// lock its neighbours out. IPv6 addresses count by /64. The counts live in this
// process.
type lookupThrottle struct {
	limiter      *failures.Limiter
	maxPerWindow int
}

// errTooManyFailures answers an address that is throttled.
var errTooManyFailures = &Error{Kind: KindRateLimited,
	Message: "too many unknown credentials from this address; retry later"}

func newLookupThrottle(maxPerWindow int, window time.Duration, now func() time.Time) *lookupThrottle {
	return &lookupThrottle{limiter: failures.NewWithClock(window, now), maxPerWindow: maxPerWindow}
}

func (t *lookupThrottle) limit(address string) failures.Limit {
	return failures.Limit{Key: failures.AddressKey(address), Max: t.maxPerWindow}
}

// allowed reports whether address may cause another lookup now.
func (t *lookupThrottle) allowed(address string) bool {
	return address == "" || !t.limiter.Blocked(t.limit(address))
}

// missed counts one lookup from address of a credential the store lacks.
func (t *lookupThrottle) missed(address string) {
	if address != "" {
		t.limiter.Fail(t.limit(address))
	}
}
