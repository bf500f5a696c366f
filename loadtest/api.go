package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The GraphQL documents the harness sends.
const (
	queryViewer    = `{ viewer { role } }`
	queryWhoAmI    = `{ viewer { role user { id } organization { slug } } }`
	mutCreateKey   = `mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret apiKey { id } } }`
	mutRevokeKey   = `mutation($id: ID!) { revokeApiKey(id: $id) { id status } }`
	mutCreateCli   = `mutation($in: CreateOAuthClientInput!) { createOAuthClient(input: $in) { clientId clientSecret client { id } } }`
	mutRevokeCli   = `mutation($id: ID!) { revokeOAuthClient(id: $id) { id status } }`
	queryListKeys  = `query($after: String) { viewer { apiKeys(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`
	querySweepKeys = `query($after: String) { viewer { apiKeys(first: 100, after: $after, includeRevoked: true) { edges { node { id name status createdAt } } pageInfo { hasNextPage endCursor } } } }`
	querySweepClis = `query($after: String) { viewer { oauthClients(first: 100, after: $after, includeRevoked: true) { edges { node { id name status createdAt } } pageInfo { hasNextPage endCursor } } } }`
)

// maxBody bounds how much of an answer the harness reads.
const maxBody = 1 << 20

// api is the harness's client of the public HTTP API (setup, probes, cleanup);
// the paced requests go through vegeta with the same http.Client.
type api struct {
	base string
	hc   *http.Client
}

// graphqlBody encodes a GraphQL request.
func graphqlBody(query string, vars map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err) // strings and maps of strings always encode
	}
	return b
}

// graphql POSTs a GraphQL request with bearer and returns the reply, the time
// it was sent and its latency.
func (a *api) graphql(ctx context.Context, bearer, query string, vars map[string]any) (reply, time.Time, time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/graphql", bytes.NewReader(graphqlBody(query, vars)))
	if err != nil {
		return reply{err: err.Error()}, time.Now(), 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	return a.do(req)
}

// token asks the token endpoint for an access token (client_secret_basic).
func (a *api) token(ctx context.Context, clientID, secret string) (reply, time.Time, time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/api/oauth/token", strings.NewReader(tokenForm))
	if err != nil {
		return reply{err: err.Error()}, time.Now(), 0
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basicAuth(clientID, secret))
	return a.do(req)
}

func (a *api) do(req *http.Request) (reply, time.Time, time.Duration) {
	start := time.Now()
	res, err := a.hc.Do(req)
	if err != nil {
		return reply{err: err.Error()}, start, time.Since(start)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return reply{err: err.Error()}, start, time.Since(start)
	}
	return reply{status: res.StatusCode, body: body}, start, time.Since(start)
}

const tokenForm = "grant_type=client_credentials"

// basicAuth is client_secret_basic: id and secret form-urlencoded, then HTTP
// Basic (RFC 6749 §2.3.1).
func basicAuth(id, secret string) string {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

// decode unmarshals a successful GraphQL answer's data; false when it does not
// have the expected shape.
func decode(data json.RawMessage, v any) bool {
	return len(data) > 0 && json.Unmarshal(data, v) == nil
}

// createdKeyData is createApiKey's payload.
type createdKeyData struct {
	CreateAPIKey struct {
		Secret string `json:"secret"`
		APIKey struct {
			ID string `json:"id"`
		} `json:"apiKey"`
	} `json:"createApiKey"`
}

func (d createdKeyData) valid() bool {
	return strings.HasPrefix(d.CreateAPIKey.Secret, "ptg_") && d.CreateAPIKey.APIKey.ID != ""
}

// revokedData is revokeApiKey's (or revokeOAuthClient's) payload.
type revokedData struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// createdClientData is createOAuthClient's payload.
type createdClientData struct {
	CreateOAuthClient struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
		Client       struct {
			ID string `json:"id"`
		} `json:"client"`
	} `json:"createOAuthClient"`
}

// listing is one page of a credential connection under viewer.
type listing struct {
	Edges []struct {
		Node struct {
			ID        string    `json:"id"`
			Name      string    `json:"name"`
			Status    string    `json:"status"`
			CreatedAt time.Time `json:"createdAt"`
		} `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage bool   `json:"hasNextPage"`
		EndCursor   string `json:"endCursor"`
	} `json:"pageInfo"`
}

type viewerListing struct {
	Viewer struct {
		APIKeys      *listing `json:"apiKeys"`
		OAuthClients *listing `json:"oauthClients"`
	} `json:"viewer"`
}
