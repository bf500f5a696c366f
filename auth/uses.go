package auth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/pentographer/pentographer/store"
)

// useKind names what a recorded use is of.
type useKind int

const (
	useAPIKey useKind = iota
	useOAuthClient
	useSession
)

// useRecorder writes when credentials were last used. While RecordUses runs,
// uses are gathered in memory and written together every interval, off the
// request path (a request never waits for a write); otherwise (the command
// line, tests of the service alone) each is written at once. Either way a use
// is written at most once per lastUsedInterval per credential.
type useRecorder struct {
	store    *store.Store
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	running bool
	pending map[useKind]map[string]time.Time
}

func newUseRecorder(st *store.Store, log *slog.Logger, interval time.Duration) *useRecorder {
	return &useRecorder{store: st, log: log, interval: interval, pending: map[useKind]map[string]time.Time{}}
}

// record notes a use of credential id at.
func (u *useRecorder) record(ctx context.Context, kind useKind, id string, at time.Time) {
	u.mu.Lock()
	if u.running {
		m := u.pending[kind]
		if m == nil {
			m = map[string]time.Time{}
			u.pending[kind] = m
		}
		m[id] = at
		u.mu.Unlock()
		return
	}
	u.mu.Unlock()
	u.write(ctx, kind, id, at)
}

// write records one use in the store.
func (u *useRecorder) write(ctx context.Context, kind useKind, id string, at time.Time) {
	var err error
	switch kind {
	case useAPIKey:
		err = u.store.TouchAPIKey(ctx, id, at, lastUsedInterval)
	case useOAuthClient:
		err = u.store.TouchOAuthClient(ctx, id, at, lastUsedInterval)
	case useSession:
		err = u.store.TouchSession(ctx, id, at, lastUsedInterval)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		u.log.WarnContext(ctx, "recording a credential's use failed", "credential_id", id, "error", err)
	}
}

// run gathers uses and writes them every interval until ctx ends, then writes
// what is left.
func (u *useRecorder) run(ctx context.Context) {
	u.mu.Lock()
	u.running = true
	u.mu.Unlock()
	t := time.NewTicker(u.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			u.flush(ctx)
		case <-ctx.Done():
			u.mu.Lock()
			u.running = false
			u.mu.Unlock()
			u.flush(context.WithoutCancel(ctx))
			return
		}
	}
}

func (u *useRecorder) flush(ctx context.Context) {
	u.mu.Lock()
	pending := u.pending
	u.pending = map[useKind]map[string]time.Time{}
	u.mu.Unlock()
	for kind, uses := range pending {
		for id, at := range uses {
			u.write(ctx, kind, id, at)
		}
	}
}

// RecordUses writes, until ctx ends, when credentials were last used in the
// background, every interval, instead of on the request path.
func (s *Service) RecordUses(ctx context.Context) { s.authn.uses.run(ctx) }
