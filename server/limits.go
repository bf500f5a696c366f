package server

import (
	"strconv"
	"time"

	"github.com/go-chi/httprate"
)

// limit is one failure counter and its cap.
type limit struct {
	key string
	max int
}

// failureLimiter counts failures (client authentications, sign-ins) under
// several keys at once, in a sliding window (go-chi/httprate), and refuses
// further attempts under a key past its cap until the window slides on. The
// counts live in this process: each replica counts its own.
type failureLimiter struct {
	rl     *httprate.RateLimiter
	window time.Duration
}

func newFailureLimiter(window time.Duration) *failureLimiter {
	// An explicit counter keeps windows aligned to the wall clock, which fail
	// relies on to name the current window. The limiter's own limit is unused:
	// each key brings its cap.
	return &failureLimiter{
		rl:     httprate.NewRateLimiter(1, window, httprate.WithLimitCounter(httprate.NewLocalLimitCounter(window))),
		window: window,
	}
}

// blocked reports whether any of the keys has used up its failures.
func (l *failureLimiter) blocked(limits ...limit) bool {
	for _, lim := range limits {
		if _, rate, err := l.rl.Status(lim.key); err == nil && rate >= float64(lim.max) {
			return true
		}
	}
	return false
}

// fail records one failure under every key.
func (l *failureLimiter) fail(limits ...limit) {
	window := time.Now().UTC().Truncate(l.window)
	for _, lim := range limits {
		_ = l.rl.Counter().IncrementBy(lim.key, window, 1)
	}
}

// retryAfter is the Retry-After of a refusal, in seconds.
func (l *failureLimiter) retryAfter() string { return strconv.Itoa(int(l.window / time.Second)) }
