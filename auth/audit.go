package auth

import (
	"context"
	"strings"
	"time"
	"unicode"

	"github.com/pentographer/pentographer/store"
)

// The audit actions.
const (
	ActionAPIKeyCreated       = "api_key.created"
	ActionAPIKeyRevoked       = "api_key.revoked"
	ActionMemberAdded         = "member.added"
	ActionMemberRoleChanged   = "member.role_changed"
	ActionMemberRemoved       = "member.removed"
	ActionOrganizationCreated = "organization.created"
)

// AuditEvent is one audit log entry as the API shows it.
type AuditEvent struct {
	ID                  string
	At                  time.Time
	Action              string
	TargetType          string
	TargetID            string
	ActorUserID         string
	ActorCredentialType string
	ActorCredentialID   string
	Via                 Channel
	Address             string
	UserAgent           string
	Detail              string
}

// auditEntry describes what happened; the actor and origin come from ctx.
type auditEntry struct {
	orgID      string
	action     string
	targetType string
	targetID   string
	detail     string
}

// record appends an audit entry in the caller's transaction, so the change and its
// record land together or not at all. detail must never hold a secret.
func (s *Service) record(ctx context.Context, tx *store.Store, p *Principal, e auditEntry) error {
	meta := RequestMetaFrom(ctx)
	ev := &store.AuditEvent{
		ID:         newID(),
		OrgID:      e.orgID,
		At:         s.clock(),
		Action:     e.action,
		TargetType: e.targetType,
		TargetID:   e.targetID,
		Address:    clean(meta.Address, 64),
		UserAgent:  clean(meta.UserAgent, 512),
		Via:        string(meta.Channel),
		Detail:     clean(e.detail, 2000),
	}
	if p != nil {
		ev.ActorUserID = p.UserID
		ev.ActorCredentialType = string(p.Method)
		ev.ActorCredentialID = p.CredentialID
	}
	return tx.InsertAuditEvent(ctx, ev)
}

// clean makes request-supplied text safe to store: valid UTF-8 (PostgreSQL
// refuses anything else, which would fail the whole audited change), nothing
// credential-shaped, no control characters, at most n bytes.
func clean(s string, n int) string {
	s = RedactSecrets(strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return truncate(s, n)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !runeStart(s[n]) {
		n--
	}
	return s[:n]
}

func runeStart(b byte) bool { return b&0xC0 != 0x80 }

// ListAuditLog pages through the caller's organization's audit log (ADMIN and
// OWNER, audit:read).
func (s *Service) ListAuditLog(ctx context.Context, opts ListOptions) (Page[AuditEvent], error) {
	p, err := require(ctx, ScopeAuditRead, RoleAdmin)
	if err != nil {
		return Page[AuditEvent]{}, err
	}
	pg, err := opts.page()
	if err != nil {
		return Page[AuditEvent]{}, err
	}
	recs, more, err := s.store.ListAuditEvents(ctx, p.OrgID, pg)
	if err != nil {
		return Page[AuditEvent]{}, err
	}
	out := Page[AuditEvent]{HasNextPage: more, Items: make([]AuditEvent, len(recs))}
	for i, r := range recs {
		out.Items[i] = AuditEvent{
			ID: r.ID, At: r.At, Action: r.Action, TargetType: r.TargetType, TargetID: r.TargetID,
			ActorUserID: r.ActorUserID, ActorCredentialType: r.ActorCredentialType,
			ActorCredentialID: r.ActorCredentialID, Via: Channel(r.Via), Address: r.Address, UserAgent: r.UserAgent,
			Detail: r.Detail,
		}
	}
	return out, nil
}
