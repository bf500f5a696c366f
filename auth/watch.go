package auth

import (
	"context"
	"encoding/json"

	"github.com/pentographer/pentographer/store"
)

// Replicas learn each other's changes through the store: every change that
// revokes or narrows authority announces its invalidations in its transaction
// (PostgreSQL NOTIFY, delivered at commit), and every replica's WatchChanges
// applies them on receipt. The cache bound (100 ms) stays as the backstop: a
// replica that missed a notification (it was reconnecting) forgets everything
// when it listens again.

// maxAnnouncement keeps a notification under PostgreSQL's 8000-byte payload
// limit; a longer list is announced as "forget everything".
const maxAnnouncement = 7000

// announce queues invs for the other replicas, sent when tx commits. What
// only this replica needs (a new credential's digest) is not sent.
func announce(ctx context.Context, tx *store.Store, invs []Invalidation) error {
	shared := make([]Invalidation, 0, len(invs))
	for _, inv := range invs {
		if inv.Digest != "" {
			inv.Digest = ""
			if inv == (Invalidation{}) {
				continue
			}
		}
		shared = append(shared, inv)
	}
	invs = shared
	if len(invs) == 0 {
		return nil
	}
	payload, err := json.Marshal(invs)
	if err != nil {
		return err
	}
	if len(payload) > maxAnnouncement {
		keys := false
		for _, inv := range invs {
			keys = keys || inv.SigningKeys
		}
		payload, _ = json.Marshal([]Invalidation{{All: true, SigningKeys: keys}})
	}
	return tx.Notify(ctx, string(payload))
}

// apply makes this replica forget what invs name, and re-read the signing keys
// when they changed.
func (a *Authenticator) apply(ctx context.Context, invs ...Invalidation) {
	a.cache.forget(invs...)
	for _, inv := range invs {
		if inv.SigningKeys {
			if err := a.keys.reload(ctx, false); err != nil {
				a.log.WarnContext(ctx, "signing keys could not be re-read after a change; the periodic refresh will retry", "error", err)
			}
			return
		}
	}
}

// WatchChanges applies, until ctx ends, the changes other replicas and the
// command line announce; listening, when not nil, is called each time it starts
// listening. On SQLite, which one process owns, there is nothing to watch and it
// returns at once.
func (s *Service) WatchChanges(ctx context.Context, listening func()) {
	if !s.store.CanListen() {
		return
	}
	first := true
	_ = s.store.Listen(ctx,
		func() {
			if !first {
				s.log.InfoContext(ctx, "listening for changes again; forgetting every cached credential")
			}
			first = false
			s.authn.apply(ctx, Invalidation{All: true, SigningKeys: true})
			if listening != nil {
				listening()
			}
		},
		func(payload string) {
			var invs []Invalidation
			if err := json.Unmarshal([]byte(payload), &invs); err != nil {
				s.log.WarnContext(ctx, "ignoring an unreadable change notification; forgetting every cached credential", "error", err)
				invs = []Invalidation{{All: true}}
			}
			s.authn.apply(ctx, invs...)
		})
}
