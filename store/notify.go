package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Changes that affect authentication are announced to every replica with
// PostgreSQL's LISTEN/NOTIFY. A notification sent in a transaction is delivered
// when, and only when, it commits. The channel is per schema, so deployments (or
// tests) sharing a database do not hear each other.

// notificationChannel is the notification channel of the store's schema.
func (s *Store) notificationChannel(ctx context.Context) (string, error) {
	var schema string
	if err := s.conn(ctx).Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
		return "", wrap("current schema", err)
	}
	return "ptg_auth_" + schema, nil
}

// Notify announces payload to every listener once the transaction commits. It
// does nothing on SQLite, which one process owns.
func (s *Store) Notify(ctx context.Context, payload string) error {
	if s.dialect != Postgres {
		return nil
	}
	return wrap("notify", s.conn(ctx).Exec("SELECT pg_notify(?, ?)", s.channel, payload).Error)
}

// CanListen reports whether the store announces changes (PostgreSQL).
func (s *Store) CanListen() bool { return s.dialect == Postgres }

// Listen delivers every announced payload to onMessage until ctx ends. It keeps
// one connection of its own and reconnects after a failure; onConnect runs each
// time it is listening again (the first time included), because notifications
// sent while it was away are lost: the caller must assume anything changed.
func (s *Store) Listen(ctx context.Context, onConnect func(), onMessage func(payload string)) error {
	if s.dialect != Postgres {
		return errors.New("store: only PostgreSQL announces changes")
	}
	ch := s.channel
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, ch, onConnect, onMessage)
		if ctx.Err() != nil {
			break
		}
		_ = err // the caller learns of the gap through onConnect on the next round
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

func (s *Store) listenOnce(ctx context.Context, ch string, onConnect func(), onMessage func(string)) error {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	onConnect()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("store: listen: %w", err)
		}
		onMessage(n.Payload)
	}
}
