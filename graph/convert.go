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

func pageInfo[T any](p auth.Page[T], id func(T) string) *model.PageInfo {
	info := &model.PageInfo{HasNextPage: p.HasNextPage}
	if n := len(p.Items); n > 0 {
		c := auth.Cursor(id(p.Items[n-1]))
		info.EndCursor = &c
	}
	return info
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
	c := &model.APIKeyConnection{Edges: make([]model.APIKeyEdge, len(p.Items))}
	for i, k := range p.Items {
		c.Edges[i] = model.APIKeyEdge{Node: apiKeyModel(k), Cursor: auth.Cursor(k.ID)}
	}
	c.PageInfo = pageInfo(p, func(k auth.APIKey) string { return k.ID })
	return c
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
	c := &model.OAuthClientConnection{Edges: make([]model.OAuthClientEdge, len(p.Items))}
	for i, k := range p.Items {
		c.Edges[i] = model.OAuthClientEdge{Node: oauthClientModel(k), Cursor: auth.Cursor(k.ID)}
	}
	c.PageInfo = pageInfo(p, func(k auth.OAuthClient) string { return k.ID })
	return c
}

func memberModel(m auth.Member) *model.Member {
	return &model.Member{User: userModel(m.User), Role: m.Role, JoinedAt: m.JoinedAt}
}

func memberConnection(p auth.Page[auth.Member]) *model.MemberConnection {
	c := &model.MemberConnection{Edges: make([]model.MemberEdge, len(p.Items))}
	for i, m := range p.Items {
		c.Edges[i] = model.MemberEdge{Node: memberModel(m), Cursor: auth.Cursor(m.ID)}
	}
	c.PageInfo = pageInfo(p, func(m auth.Member) string { return m.ID })
	return c
}

func auditEventConnection(p auth.Page[auth.AuditEvent]) *model.AuditEventConnection {
	c := &model.AuditEventConnection{Edges: make([]model.AuditEventEdge, len(p.Items))}
	for i, e := range p.Items {
		c.Edges[i] = model.AuditEventEdge{Cursor: auth.Cursor(e.ID), Node: &model.AuditEvent{
			ID: e.ID, At: e.At, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
			Actor: &model.AuditActor{
				UserID:         optional(e.ActorUserID),
				CredentialType: e.ActorCredentialType,
				CredentialID:   optional(e.ActorCredentialID),
			},
			Address: e.Address, UserAgent: e.UserAgent, Detail: e.Detail,
		}}
	}
	c.PageInfo = pageInfo(p, func(e auth.AuditEvent) string { return e.ID })
	return c
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
