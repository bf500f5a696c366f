package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// setupRetryFor is how long the setup waits out RATE_LIMITED answers (the
// server's creation limit is per minute, so a previous run can still count).
const setupRetryFor = 90 * time.Second

// setup checks the key and creates the fixtures through the API: the read keys
// of key_read (no scopes: { viewer { role } } needs none), the OAuth client of
// token_request and its first access tokens.
func (h *harness) setup(ctx context.Context) error {
	r, _, _ := h.api.graphql(ctx, h.cfg.Key, queryWhoAmI, nil)
	class, data := classifyGraphQL(r)
	var who struct {
		Viewer struct {
			Role         string `json:"role"`
			Organization struct {
				Slug string `json:"slug"`
			} `json:"organization"`
		} `json:"viewer"`
	}
	if class == classOK && !decode(data, &who) {
		class = classBadResponse
	}
	if class != classOK {
		return fmt.Errorf("the key does not work against %s: %s", h.api.base, describe(class, r))
	}
	h.logf("setup: acting as %s of organization %q; names start with %q", who.Viewer.Role, who.Viewer.Organization.Slug, h.prefix)
	h.ownerHeader = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + h.cfg.Key}}

	h.fixtures = newKeyPool()
	for i := range h.cfg.ReadKeys {
		data, err := h.setupMutation(ctx, mutCreateKey, map[string]any{"in": map[string]any{
			"name": fmt.Sprintf("%s read %d", h.prefix, i+1), "scopes": []string{},
		}})
		if err != nil {
			return err
		}
		var d createdKeyData
		if !decode(data, &d) || !d.valid() {
			return errors.New("setup: createApiKey answered without a key and secret")
		}
		k := h.fixtures.add(d.CreateAPIKey.APIKey.ID, d.CreateAPIKey.Secret)
		h.fixtures.set(k, keyReady)
		h.readKeys = append(h.readKeys, k)
		h.readHeaders = append(h.readHeaders, http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + k.secret}})
	}

	data, err := h.setupMutation(ctx, mutCreateCli, map[string]any{"in": map[string]any{"name": h.prefix + " token client", "scopes": []string{}}})
	if err != nil {
		return err
	}
	c, ok := decodeClient(data)
	if !ok {
		return errors.New("setup: createOAuthClient answered without a client id and secret")
	}
	h.client = h.addClient(c)
	h.tokenHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {basicAuth(c.clientID, c.secret)}}
	for range min(4, h.cfg.TokenPool) {
		r, at, _ := h.api.token(ctx, c.clientID, c.secret)
		class, tok := classifyToken(r)
		if class != classOK {
			return fmt.Errorf("setup: the token endpoint refused the new client: %s", describe(class, r))
		}
		h.tokens.add(tok.AccessToken, time.Duration(tok.ExpiresIn)*time.Second, at)
	}
	h.logf("setup: %d read keys, 1 OAuth client, %d access tokens", len(h.readKeys), min(4, h.cfg.TokenPool))
	return nil
}

// setupMutation runs a creating mutation with the owner key, waiting out the
// server's creation rate limit.
func (h *harness) setupMutation(ctx context.Context, query string, vars map[string]any) (json.RawMessage, error) {
	deadline := time.Now().Add(setupRetryFor)
	for {
		r, _, _ := h.api.graphql(ctx, h.cfg.Key, query, vars)
		class, data := classifyGraphQL(r)
		switch {
		case class == classOK:
			return data, nil
		case class == "graphql:RATE_LIMITED" && time.Now().Before(deadline):
			h.logf("setup: RATE_LIMITED by the server's creation limit (PTG_CREATE_RATE); retrying in 5s")
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Second):
			}
		case class == "graphql:LIMIT_EXCEEDED":
			return nil, fmt.Errorf("setup: %s: this person has too many active credentials; revoke unused ones, "+
				"or raise PTG_MAX_KEYS_PER_USER / PTG_MAX_CLIENTS_PER_USER on the server", describe(class, r))
		default:
			return nil, fmt.Errorf("setup: %s", describe(class, r))
		}
	}
}

// describe names a failed answer for an error message: the class, and the
// GraphQL error message or OAuth error description (which never hold a secret).
func describe(class string, r reply) string {
	if r.status == 0 {
		return class + " (" + r.err + ")"
	}
	var body struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(r.body, &body)
	msg := body.Description
	if len(body.Errors) > 0 {
		msg = body.Errors[0].Message
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		return class
	}
	return class + ": " + msg
}

func decodeClient(data json.RawMessage) (*harnessClient, bool) {
	var d createdClientData
	if !decode(data, &d) {
		return nil, false
	}
	c := d.CreateOAuthClient
	if !strings.HasPrefix(c.ClientID, "ptgc_") || !strings.HasPrefix(c.ClientSecret, "ptgs_") || c.Client.ID == "" {
		return nil, false
	}
	return &harnessClient{id: c.Client.ID, clientID: c.ClientID, secret: c.ClientSecret}, true
}

func (h *harness) addClient(c *harnessClient) *harnessClient {
	h.clientsMu.Lock()
	defer h.clientsMu.Unlock()
	h.clients = append(h.clients, c)
	return c
}

// clientCycles runs the OAuth client cycle every ClientEvery until ctx ends.
func (h *harness) clientCycles(ctx context.Context) {
	t := time.NewTicker(h.cfg.ClientEvery)
	defer t.Stop()
	for n := 1; ; n++ {
		h.clientCycle(n)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// clientCycle creates an OAuth client, gets a token and uses it, revokes the
// client, and then uses the token and the secret again: both must be refused.
func (h *harness) clientCycle(n int) {
	r, at, lat := h.api.graphql(h.bg, h.cfg.Key, mutCreateCli, map[string]any{"in": map[string]any{
		"name": fmt.Sprintf("%s client %d", h.prefix, n), "scopes": []string{},
	}})
	class, data := classifyGraphQL(r)
	c, ok := decodeClient(data)
	if class == classOK && !ok {
		class = classBadResponse
	}
	h.rec.record(OpClientCreate, at, lat, class)
	if class != classOK {
		return
	}
	h.rec.count(func(t *Totals) { t.ClientsCreated++ })
	h.addClient(c)

	r, at, lat = h.api.token(h.bg, c.clientID, c.secret)
	class, tok := classifyToken(r)
	h.rec.record(OpClientToken, at, lat, class)
	h.rec.verdict(judgeAlive(class), OpClientToken, c.id, "new client's token request: "+class)
	if class == classOK {
		r, at, lat = h.api.graphql(h.bg, tok.AccessToken, queryViewer, nil)
		class, _ = classifyGraphQL(r)
		h.rec.record(ProbeClientToken, at, lat, class)
		switch {
		case isRefused(class):
			h.rec.rejectedValid(ProbeClientToken, c.id+" token", "new client's token refused: "+class)
		case class != classOK:
			h.rec.verdict(verdictInconclusive, ProbeClientToken, c.id, class)
		}
	}
	h.revokeClient(OpClientRevoke, c, tok.AccessToken)
}

// revokeClient revokes c; when that is acknowledged, its token (if any) and its
// secret must be refused from the next request on.
func (h *harness) revokeClient(op Op, c *harnessClient, token string) {
	r, at, lat := h.api.graphql(h.bg, h.cfg.Key, mutRevokeCli, map[string]any{"id": c.id})
	class, data := classifyGraphQL(r)
	var d struct {
		RevokeOAuthClient revokedData `json:"revokeOAuthClient"`
	}
	if class == classOK && !(decode(data, &d) && d.RevokeOAuthClient.ID == c.id && d.RevokeOAuthClient.Status == "REVOKED") {
		class = classBadResponse
	}
	h.rec.record(op, at, lat, class)
	switch v := judgeRevoke(class); v {
	case verdictOK:
	case verdictLost:
		h.rec.verdict(v, op, c.id, "revoking an acknowledged client answered "+class)
		h.setClientRevoked(c)
		return
	default:
		return // left for the cleanup
	}
	h.setClientRevoked(c)
	h.rec.count(func(t *Totals) { t.ClientsRevoked++ })
	if token != "" {
		r, at, lat = h.api.graphql(h.bg, token, queryViewer, nil)
		class, _ = classifyGraphQL(r)
		h.rec.record(ProbeClientTokenGone, at, lat, class)
		h.rec.verdict(judgeRevoked(class), ProbeClientTokenGone, c.id+" token", "token of a revoked client used: "+classOrOK(class))
	}
	r, at, lat = h.api.token(h.bg, c.clientID, c.secret)
	class, _ = classifyToken(r)
	h.rec.record(ProbeClientSecret, at, lat, class)
	h.rec.verdict(judgeRevoked(class), ProbeClientSecret, c.id, "secret of a revoked client used: "+classOrOK(class))
}

func (h *harness) setClientRevoked(c *harnessClient) {
	h.clientsMu.Lock()
	defer h.clientsMu.Unlock()
	c.revoked = true
}

func (h *harness) unrevokedClients() []*harnessClient {
	h.clientsMu.Lock()
	defer h.clientsMu.Unlock()
	var out []*harnessClient
	for _, c := range h.clients {
		if !c.revoked {
			out = append(out, c)
		}
	}
	return out
}

// cleanup revokes everything the run created that is still active, probing
// each revoked credential once more.
func (h *harness) cleanup() {
	for _, k := range h.keys.unrevoked() {
		h.revokeKey(h.keys, k)
	}
	if h.fixtures != nil {
		for _, k := range h.fixtures.unrevoked() {
			h.revokeKey(h.fixtures, k)
		}
	}
	token := ""
	if t, ok := h.tokens.pick(time.Now()); ok {
		token = t.token
	}
	for _, c := range h.unrevokedClients() {
		if c == h.client {
			h.revokeClient(OpCleanupRevoke, c, token)
		} else {
			h.revokeClient(OpCleanupRevoke, c, "")
		}
	}
	h.probes.Wait()
	left := len(h.keys.unrevoked()) + len(h.unrevokedClients())
	if h.fixtures != nil {
		left += len(h.fixtures.unrevoked())
	}
	if left > 0 {
		h.logf("warning: %d credential(s) of this run could not be revoked; their names start with %q", left, h.prefix)
	}
}

func (h *harness) revokeKey(p *keyPool, k *harnessKey) {
	r, at, lat := h.api.graphql(h.bg, h.cfg.Key, mutRevokeKey, map[string]any{"id": k.id})
	class, data := classifyGraphQL(r)
	var d struct {
		RevokeAPIKey revokedData `json:"revokeApiKey"`
	}
	if class == classOK && !(decode(data, &d) && d.RevokeAPIKey.ID == k.id && d.RevokeAPIKey.Status == "REVOKED") {
		class = classBadResponse
	}
	h.rec.record(OpCleanupRevoke, at, lat, class)
	h.revoked(p, OpCleanupRevoke, k, class, false)
}

// sweepMargin allows for clock skew between the harness and the server when
// the sweep decides it has paged past everything the run created.
const sweepMargin = 5 * time.Minute

// sweep reads the person's listings with revoked credentials included and
// checks everything the run created: each acknowledged credential must be
// listed, and listed REVOKED once its revocation was acknowledged. A credential
// of this run the harness never heard of (its creation timed out) is revoked.
func (h *harness) sweep() {
	if h.fixtures == nil {
		return
	}
	keys := h.keys.snapshot()
	for id, s := range h.fixtures.snapshot() {
		keys[id] = s
	}
	revokedKeys := map[string]bool{}
	for id, s := range keys {
		if s == keyRevoked {
			revokedKeys[id] = true
		}
	}
	var orphans []string
	found, complete := h.sweepList(querySweepKeys, func(v viewerListing) *listing { return v.Viewer.APIKeys },
		len(keys), func(id, name, status string) {
			if _, known := keys[id]; !known && strings.HasPrefix(name, h.prefix+" ") && status == "ACTIVE" {
				orphans = append(orphans, id)
			}
		}, keys)
	h.judgeSweep("key", keys, revokedKeys, found, complete)
	for _, id := range orphans {
		h.revokeKey(h.keys, h.keys.add(id, ""))
	}

	clients := map[string]keyState{}
	revokedClients := map[string]bool{}
	h.clientsMu.Lock()
	for _, c := range h.clients {
		clients[c.id] = keyReady
		revokedClients[c.id] = c.revoked
	}
	h.clientsMu.Unlock()
	var orphanClients []*harnessClient
	found, complete = h.sweepList(querySweepClis, func(v viewerListing) *listing { return v.Viewer.OAuthClients },
		len(clients), func(id, name, status string) {
			if _, known := clients[id]; !known && strings.HasPrefix(name, h.prefix+" ") && status == "ACTIVE" {
				orphanClients = append(orphanClients, &harnessClient{id: id})
			}
		}, clients)
	h.judgeSweep("client", clients, revokedClients, found, complete)
	for _, c := range orphanClients {
		h.revokeClient(OpCleanupRevoke, c, "")
	}
}

// sweepList pages through one listing newest first, until every expected id was
// seen or the page reaches credentials older than the run. It returns the
// status of each expected id seen and whether the listing was read to the end
// it needed.
func (h *harness) sweepList(query string, pick func(viewerListing) *listing, want int,
	other func(id, name, status string), expected map[string]keyState,
) (map[string]string, bool) {
	found := map[string]string{}
	oldest := h.rec.start.Add(-sweepMargin)
	after := any(nil)
	for range 1000 {
		r, at, lat := h.api.graphql(h.bg, h.cfg.Key, query, map[string]any{"after": after})
		class, data := classifyGraphQL(r)
		var v viewerListing
		var page *listing
		if class == classOK {
			if decode(data, &v) {
				page = pick(v)
			}
			if page == nil {
				class = classBadResponse
			}
		}
		h.rec.record(OpSweep, at, lat, class)
		if class != classOK {
			h.logf("warning: the final listing check stopped: %s", class)
			return found, false
		}
		older := false
		for _, e := range page.Edges {
			n := e.Node
			if _, ok := expected[n.ID]; ok {
				found[n.ID] = n.Status
			} else {
				other(n.ID, n.Name, n.Status)
			}
			older = older || n.CreatedAt.Before(oldest)
		}
		if len(found) == want || older || !page.PageInfo.HasNextPage {
			return found, true
		}
		after = page.PageInfo.EndCursor
	}
	return found, false
}

// judgeSweep turns the listing into verdicts: missing means lost; ACTIVE after
// an acknowledged revocation means the revocation did not hold.
func (h *harness) judgeSweep(kind string, expected map[string]keyState, revoked map[string]bool, found map[string]string, complete bool) {
	for id := range expected {
		status, ok := found[id]
		switch {
		case !ok && complete:
			h.rec.verdict(verdictLost, OpSweep, id, "acknowledged "+kind+" missing from its owner's listing (revoked included)")
		case ok && revoked[id] && status != "REVOKED":
			h.rec.verdict(verdictStale, OpSweep, id, "revoked "+kind+" listed "+status+" after its revocation was acknowledged")
		}
	}
}
