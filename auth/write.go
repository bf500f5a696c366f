package auth

import (
	"context"
	"time"

	"github.com/pentographer/pentographer/store"
)

// This file is the one door every change goes through. A request's authority is
// decided when it authenticates, but a change may commit much later, after its
// credential was revoked or its creator demoted or removed. So a change:
//
//  1. opens a transaction and locks the organization (exclusively for changes
//     that revoke or narrow authority, shared for the rest), then the actor's
//     membership (and, for a session, its person: see store.LockPerson): one
//     lock order, organization → membership → person → rows, on both stores
//     (SQLite serializes every write transaction anyway);
//  2. re-admits the actor inside it: reads the credential and the creator's
//     membership again and decides with admit, the same function that
//     authenticates requests; a credential revoked, expired or removed meanwhile,
//     or a session switched to another organization, is UNAUTHENTICATED, a role
//     or scope now missing is FORBIDDEN;
//  3. runs the change with that fresh principal;
//  4. writes its audit entries in the same transaction;
//  5. after commit, forgets what the change revoked or narrowed from the
//     authentication cache.
//
// A revocation, removal or role change holds the organization exclusively, so a
// change by the affected actor either committed before it started, or waits and
// then sees it and fails: nothing acts after the revoking call returns. The
// lock queues fairly, so a stream of changes cannot starve a revocation.

// writeOp says what a change needs of its actor and how it locks.
type writeOp struct {
	// scope the actor must hold ("" for none) and the lowest role.
	scope string
	min   Role
	// weakens: the change revokes or narrows authority, so it takes the
	// organization exclusively.
	weakens bool
}

// writeTx is a change in progress.
type writeTx struct {
	ctx context.Context
	tx  *store.Store
	// actor is the caller as re-admitted inside the transaction.
	actor  *Principal
	now    time.Time
	audits []auditEntry
	forget []Invalidation
}

// audit records e when the change commits.
func (w *writeTx) audit(e auditEntry) { w.audits = append(w.audits, e) }

// invalidate forgets what inv names from the authentication cache once the
// change has committed.
func (w *writeTx) invalidate(inv Invalidation) { w.forget = append(w.forget, inv) }

// write runs change as the caller of ctx through the door.
func (s *Service) write(ctx context.Context, op writeOp, change func(w *writeTx) error) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	// Refuse early what the request's own authority already forbids; the same
	// check runs again on the re-admitted actor.
	if err := authorize(p, op.scope, op.min); err != nil {
		return err
	}
	mode := store.LockShared
	if op.weakens {
		mode = store.LockExclusive
	}
	return s.commit(ctx, p.OrgID, mode, func(w *writeTx) error {
		actor, err := s.readmit(w, p, mode)
		if err != nil {
			return err
		}
		if err := authorize(actor, op.scope, op.min); err != nil {
			return err
		}
		w.actor = actor
		return change(w)
	})
}

// commit runs change in one transaction holding orgID's lock (none when orgID is
// empty, for changes that span organizations), writes its audit entries, and
// after commit applies its invalidations. The actor of an operator change is
// the operator.
func (s *Service) commit(ctx context.Context, orgID string, mode store.LockMode, change func(w *writeTx) error) error {
	var w *writeTx
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		if orgID != "" {
			if err := tx.LockOrganization(ctx, orgID, mode); err != nil {
				return err
			}
		}
		// The clock is read once the lock is held, so the times changes record
		// follow the order in which they commit.
		w = &writeTx{ctx: ctx, tx: tx, now: s.clock(), actor: operator}
		if err := change(w); err != nil {
			return err
		}
		for _, e := range w.audits {
			if err := s.record(ctx, tx, w.actor, e); err != nil {
				return err
			}
		}
		return announce(ctx, tx, w.forget)
	})
	if err != nil {
		return err
	}
	s.authn.apply(ctx, w.forget...)
	return nil
}

// operator is the actor of command-line changes, which have no credential.
var operator = &Principal{Method: MethodOperator, Role: RoleOwner}

// readmit decides p again inside w's transaction: the membership of its creator
// (locked) and the credential as they are now. A session also holds its person's
// lock in mode (see store.LockPerson), so that ending it from another
// organization waits for this change, or this change sees it ended.
func (s *Service) readmit(w *writeTx, p *Principal, mode store.LockMode) (*Principal, error) {
	if p.Method == MethodOperator {
		return p, nil
	}
	m, err := w.tx.LockMembership(w.ctx, p.OrgID, p.UserID)
	if isNotFound(err) {
		return nil, invalidToken(msgUnknown)
	}
	if err != nil {
		return nil, err
	}
	var g grant
	switch p.Method {
	case MethodAPIKey:
		c, err := w.tx.APIKeyCredentialByID(w.ctx, p.CredentialID)
		if err != nil {
			return nil, notFoundAsUnknown(err)
		}
		g = keyGrant(c)
	case MethodAccessToken, MethodClientSecret:
		c, err := w.tx.OAuthClientCredentialByID(w.ctx, p.CredentialID)
		if err != nil {
			return nil, notFoundAsUnknown(err)
		}
		if p.Method == MethodClientSecret {
			g = storedClientGrant(c)
			break
		}
		if p.Token == nil {
			return nil, ErrUnauthenticated
		}
		revoked, err := w.tx.TokenRevoked(w.ctx, p.Token.ID)
		if err != nil {
			return nil, err
		}
		g = tokenGrant(c, p.Token, revoked)
	case MethodSession:
		if err := w.tx.LockPerson(w.ctx, p.UserID, mode); err != nil {
			return nil, err
		}
		c, err := w.tx.SessionCredentialByID(w.ctx, p.CredentialID)
		if err != nil {
			return nil, notFoundAsUnknown(err)
		}
		g = s.sessionIn.grant(c, s.scopes)
	default:
		return nil, ErrUnauthenticated
	}
	// The credential must still act where the request authenticated: a session
	// switched to another organization meanwhile must not carry this one's
	// role there (nor act there under this organization's lock).
	if g.orgID != p.OrgID || g.userID != p.UserID {
		return nil, invalidToken(msgUnknown)
	}
	// The membership row just locked is the authority on the role.
	g.role = m.Role
	return admit(g, s.scopes, w.now)
}

// errUnknownCredential answers a credential the store does not have, in the
// same words as a revoked one.
var errUnknownCredential = invalidToken(msgUnknown)

// notFoundAsUnknown answers a credential that does not exist like a revoked one.
func notFoundAsUnknown(err error) error {
	if isNotFound(err) {
		return errUnknownCredential
	}
	return err
}

// authorize checks p holds at least role min and, when scope is set, the scope.
func authorize(p *Principal, scope string, min Role) error {
	if !p.Role.AtLeast(min) {
		return errorf(KindForbidden, "this needs the %s role", min)
	}
	if scope != "" && !p.Can(scope) {
		return errorf(KindForbidden, "this credential lacks the %s scope", scope)
	}
	return nil
}
