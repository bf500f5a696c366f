package server

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// deadline bounds the time spent on one request, so a slow database cannot pile
// requests up forever. The deadline's timer is made only when something waits on
// the context (a database query, a coalesced lookup): most requests answered
// from the cache never need one, and a timer per request is a measurable share
// of a cheap request.
func (s *Server) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := &lazyDeadline{Context: r.Context(), at: time.Now().Add(s.cfg.RequestTimeout)}
		defer ctx.release()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// lazyDeadline is context.WithDeadline(parent, at) whose timer starts on the
// first call of Done or Err. Deadline answers at once, so code that only plans
// with it (database/sql, net) pays nothing.
type lazyDeadline struct {
	context.Context // the parent: values come from it
	at              time.Time

	once   sync.Once
	real   context.Context
	cancel context.CancelFunc
	// started is set once real is the timed context (not after release).
	started atomic.Bool
}

func (c *lazyDeadline) start() context.Context {
	c.once.Do(func() {
		c.real, c.cancel = context.WithDeadline(c.Context, c.at)
		c.started.Store(true)
	})
	return c.real
}

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.at, true }
func (c *lazyDeadline) Done() <-chan struct{}       { return c.start().Done() }
func (c *lazyDeadline) Err() error                  { return c.start().Err() }

// Value answers from the timed context once it runs, the parent before. The
// context package finds a context's cancellation state through Value: this
// way context.Cause reports the deadline (not the parent's nil), and contexts
// derived from this one are cancelled with it directly, without a goroutine
// each. Before the timer starts nothing waits on this context, and the values
// are the parent's either way.
func (c *lazyDeadline) Value(key any) any {
	if c.started.Load() {
		return c.real.Value(key)
	}
	return c.Context.Value(key)
}

// release ends the context when the request is done: the timer stops if one
// was started; if none was, whatever asks later finds it done, as a cancelled
// context would be.
func (c *lazyDeadline) release() {
	c.once.Do(func() { c.real = requestOver })
	if c.cancel != nil {
		c.cancel()
	}
}

// requestOver is the answer of a lazyDeadline asked after its request ended.
var requestOver = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()
