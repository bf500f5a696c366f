package graph

import (
	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/graph/model"
)

// This file translates auth's domain values into GraphQL models.

func listOptions(first *int, after *string, includeRevoked *bool, order *model.CredentialOrder) auth.ListOptions {
	var o auth.ListOptions
	if first != nil {
		o.First = *first
		if o.First == 0 {
			o.First = -1 // first: 0 is out of range, not "the default"
		}
	}
	if after != nil {
		o.After = *after
	}
	if includeRevoked != nil {
		o.IncludeRevoked = *includeRevoked
	}
	if order != nil && *order == model.CredentialOrderCreatedAtAsc {
		o.OldestFirst = true
	}
	return o
}

// page turns one page of domain items into GraphQL edges and page info: edge
// builds the edge of an item from its cursor.
func page[T, E any](p auth.Page[T], id func(T) string, edge func(T, string) E) ([]E, *model.PageInfo) {
	edges := make([]E, len(p.Items))
	for i, it := range p.Items {
		edges[i] = edge(it, auth.Cursor(id(it)))
	}
	info := &model.PageInfo{HasNextPage: p.HasNextPage}
	if n := len(p.Items); n > 0 {
		c := auth.Cursor(id(p.Items[n-1]))
		info.EndCursor = &c
	}
	return edges, info
}

func userModel(u auth.User) *model.User {
	return &model.User{ID: u.ID, Email: u.Email, Name: u.Name}
}

func orgModel(o auth.Organization) *model.Organization {
	return &model.Organization{ID: o.ID, Slug: o.Slug, Name: o.Name}
}

func apiKeyModel(k auth.APIKey) *model.APIKey {
	return &model.APIKey{
		ID: k.ID, Name: k.Name, Hint: k.Hint, Scopes: nonNil(k.Scopes), Owner: userModel(k.Owner),
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt,
		Status: model.CredentialStatus(k.Status),
	}
}

func apiKeyConnection(p auth.Page[auth.APIKey]) *model.APIKeyConnection {
	edges, info := page(p, func(k auth.APIKey) string { return k.ID },
		func(k auth.APIKey, cursor string) model.APIKeyEdge {
			return model.APIKeyEdge{Node: apiKeyModel(k), Cursor: cursor}
		})
	return &model.APIKeyConnection{Edges: edges, PageInfo: info}
}

func oauthClientModel(c auth.OAuthClient) *model.OAuthClient {
	return &model.OAuthClient{
		ID: c.ID, Name: c.Name, ClientID: c.ClientID, SecretHint: c.SecretHint, Scopes: nonNil(c.Scopes),
		Owner: userModel(c.Owner), CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt, RevokedAt: c.RevokedAt,
		Status: model.CredentialStatus(c.Status),
	}
}

func oauthClientSecretPayload(c auth.OAuthClientWithSecret) *model.OAuthClientSecretPayload {
	return &model.OAuthClientSecretPayload{Client: oauthClientModel(c.Client), ClientID: c.Client.ClientID, ClientSecret: c.ClientSecret}
}

func oauthClientConnection(p auth.Page[auth.OAuthClient]) *model.OAuthClientConnection {
	edges, info := page(p, func(c auth.OAuthClient) string { return c.ID },
		func(c auth.OAuthClient, cursor string) model.OAuthClientEdge {
			return model.OAuthClientEdge{Node: oauthClientModel(c), Cursor: cursor}
		})
	return &model.OAuthClientConnection{Edges: edges, PageInfo: info}
}

func memberModel(m auth.Member) *model.Member {
	return &model.Member{User: userModel(m.User), Role: m.Role, JoinedAt: m.JoinedAt}
}

func memberConnection(p auth.Page[auth.Member]) *model.MemberConnection {
	edges, info := page(p, func(m auth.Member) string { return m.ID },
		func(m auth.Member, cursor string) model.MemberEdge {
			return model.MemberEdge{Node: memberModel(m), Cursor: cursor}
		})
	return &model.MemberConnection{Edges: edges, PageInfo: info}
}

func auditEventConnection(p auth.Page[auth.AuditEvent]) *model.AuditEventConnection {
	edges, info := page(p, func(e auth.AuditEvent) string { return e.ID },
		func(e auth.AuditEvent, cursor string) model.AuditEventEdge {
			return model.AuditEventEdge{Cursor: cursor, Node: &model.AuditEvent{
				ID: e.ID, At: e.At, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
				Actor: &model.AuditActor{
					UserID:         optional(e.ActorUserID),
					CredentialType: e.ActorCredentialType,
					CredentialID:   optional(e.ActorCredentialID),
				},
				Via: string(e.Via), Address: e.Address, UserAgent: e.UserAgent, Detail: e.Detail,
			}}
		})
	return &model.AuditEventConnection{Edges: edges, PageInfo: info}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(s auth.Scopes) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func invitationModel(i auth.Invitation) *model.Invitation {
	return &model.Invitation{ID: i.ID, Email: i.Email, Role: i.Role, CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt, InvitedBy: userModel(i.InvitedBy)}
}

func invitationConnection(p auth.Page[auth.Invitation]) *model.InvitationConnection {
	edges, info := page(p, func(i auth.Invitation) string { return i.ID },
		func(i auth.Invitation, cursor string) model.InvitationEdge {
			return model.InvitationEdge{Node: invitationModel(i), Cursor: cursor}
		})
	return &model.InvitationConnection{Edges: edges, PageInfo: info}
}

func sessionModel(s auth.SessionInfo) *model.Session {
	out := &model.Session{
		ID: s.ID, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt,
		Address: s.Address, UserAgent: s.UserAgent, Current: s.Current,
	}
	if s.Organization != nil {
		out.Organization = orgModel(s.Organization.Organization)
	}
	return out
}
