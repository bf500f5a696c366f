package server

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

const (
	createClientMutation = `mutation($in: CreateOAuthClientInput!) { createOAuthClient(input: $in) { clientId clientSecret client { id clientId secretHint scopes status owner { email } } } }`
	revokeClientMutation = `mutation($id: ID!) { revokeOAuthClient(id: $id) { id status revokedAt } }`
	rotateClientMutation = `mutation($id: ID!) { rotateOAuthClientSecret(id: $id) { clientId clientSecret client { id secretHint } } }`
)

// oauthClient is a registered client with its only copy of the secret.
type oauthClient struct{ id, clientID, secret string }

func (e *env) createClient(a actor, name string, scopes []string) oauthClient {
	e.t.Helper()
	in := map[string]any{"name": name}
	if scopes != nil {
		in["scopes"] = scopes
	}
	r := e.gql(a.key, createClientMutation, map[string]any{"in": in}).ok(e.t)
	return oauthClient{
		id:       r.str("createOAuthClient", "client", "id"),
		clientID: r.str("createOAuthClient", "clientId"),
		secret:   r.str("createOAuthClient", "clientSecret"),
	}
}

// form POSTs a form to path with optional Basic credentials.
func (e *env) form(path string, values url.Values, basicID, basicSecret string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" || basicSecret != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return e.do(req)
}

func (e *env) token(c oauthClient, scope string) string {
	e.t.Helper()
	v := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		v.Set("scope", scope)
	}
	r := e.form("/api/oauth/token", v, c.clientID, c.secret)
	if r.Status != http.StatusOK {
		e.t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(r.Body, &body)
	return body.AccessToken
}

func TestRealOAuthClientGetsAndUsesTokens(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		c := e.createClient(owner, "integration", []string{"keys:read", "clients:read", "findings:read"})
		if !auth.ValidClientID(c.clientID) || !auth.ValidClientSecret(c.secret) {
			t.Fatalf("client id %q / secret format", c.clientID)
		}
		for name, style := range map[string]oauth2.AuthStyle{"AuthStyleInParams": oauth2.AuthStyleInParams, "AuthStyleInHeader": oauth2.AuthStyleInHeader} {
			t.Run(name, func(t *testing.T) {
				cfg := clientcredentials.Config{
					ClientID: c.clientID, ClientSecret: c.secret, TokenURL: e.http.URL + "/api/oauth/token",
					Scopes: []string{"keys:read", "findings:read"}, AuthStyle: style,
				}
				ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.http.Client())
				tok, err := cfg.Token(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if tok.TokenType != "Bearer" || tok.Expiry.IsZero() || time.Until(tok.Expiry) > time.Hour+time.Minute {
					t.Fatalf("token %+v", tok)
				}
				if got := tok.Extra("scope"); got != "findings:read keys:read" {
					t.Fatalf("scope %v", got)
				}
				// The library's client sends the token as a bearer.
				hc := cfg.Client(ctx)
				res, err := hc.Post(e.http.URL+"/graphql", "application/json", strings.NewReader(`{"query":"{ viewer { authMethod role scopes user { email } } }"}`))
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || !strings.Contains(string(body), `"authMethod":"ACCESS_TOKEN"`) || !strings.Contains(string(body), `"scopes":["findings:read","keys:read"]`) {
					t.Fatalf("%d %s", res.StatusCode, body)
				}
				verifyWithJOSE(t, e, tok.AccessToken, c, owner)
			})
		}
	})
}

// verifyWithJOSE checks a token with go-jose against the published JWKS alone.
func verifyWithJOSE(t *testing.T, e *env, token string, c oauthClient, owner actor) {
	t.Helper()
	res, err := e.http.Client().Get(e.http.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	parsed, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	h := parsed.Headers[0]
	if h.Algorithm != "ES256" || h.ExtraHeaders["typ"] != "at+jwt" || h.KeyID == "" {
		t.Fatalf("header %+v", h)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 || keys[0].Use != "sig" || !keys[0].Valid() || !keys[0].IsPublic() {
		t.Fatalf("kid %s in JWKS: %+v", h.KeyID, keys)
	}
	var std josejwt.Claims
	var extra struct {
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
		OrgID    string `json:"org_id"`
	}
	if err := parsed.Claims(keys[0].Key, &std, &extra); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	err = std.ValidateWithLeeway(josejwt.Expected{
		Issuer: e.srv.cfg.PublicURL, Subject: c.clientID, AnyAudience: josejwt.Audience{e.srv.cfg.PublicURL + "/graphql"}, Time: time.Now(),
	}, 0)
	if err != nil {
		t.Fatalf("claims: %v", err)
	}
	if std.ID == "" || std.IssuedAt == nil || std.NotBefore == nil || std.Expiry == nil ||
		extra.ClientID != c.clientID || extra.OrgID != owner.orgID || extra.Scope == "" {
		t.Fatalf("claims %+v %+v", std, extra)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		c := e.createClient(owner, "errors", []string{"keys:read"})
		wrong := c.secret[:len(c.secret)-8] + "AAAAAAAA" // well-formed shape, wrong value
		grant := "grant_type=client_credentials"
		post := "&client_id=" + c.clientID + "&client_secret=" + url.QueryEscape(c.secret)
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(c.clientID+":"+c.secret))
		cases := []struct {
			name, method, path, contentType, body, authorization string
			status                                               int
			code                                                 string
			basicChallenge                                       bool
		}{
			{"wrong_secret_post", "POST", "", "", grant + "&client_id=" + c.clientID + "&client_secret=" + wrong, "", 401, "invalid_client", false},
			{"wrong_secret_basic", "POST", "", "", grant, "Basic " + base64.StdEncoding.EncodeToString([]byte(c.clientID+":"+wrong)), 401, "invalid_client", true},
			{"unknown_client", "POST", "", "", grant + "&client_id=ptgc_AAAAAAAAAAAAAAAAAAAAAAAA&client_secret=" + c.secret, "", 401, "invalid_client", false},
			{"malformed_client_id", "POST", "", "", grant + "&client_id=nope&client_secret=nope", "", 401, "invalid_client", false},
			{"no_credentials", "POST", "", "", grant, "", 401, "invalid_client", false},
			{"id_without_secret", "POST", "", "", grant + "&client_id=" + c.clientID, "", 401, "invalid_client", false},
			{"both_auth_methods", "POST", "", "", grant + post, basic, 400, "invalid_request", false},
			{"repeated_grant_type", "POST", "", "", grant + "&" + grant + post, "", 400, "invalid_request", false},
			{"repeated_client_secret", "POST", "", "", grant + post + "&client_secret=x", "", 400, "invalid_request", false},
			{"credentials_in_query_string", "POST", "?client_id=" + c.clientID + "&client_secret=" + c.secret, "", grant, "", 400, "invalid_request", false},
			{"JSON_body", "POST", "", "application/json", `{"grant_type":"client_credentials","client_id":"` + c.clientID + `","client_secret":"` + c.secret + `"}`, "", 400, "invalid_request", false},
			{"bad_encoding", "POST", "", "", grant + post + "&scope=%zz", "", 400, "invalid_request", false},
			{"missing_grant_type", "POST", "", "", strings.TrimPrefix(post, "&"), "", 400, "invalid_request", false},
			{"unsupported_grant_type", "POST", "", "", "grant_type=password" + post, "", 400, "unsupported_grant_type", false},
			{"authorization_code_grant", "POST", "", "", "grant_type=authorization_code&code=x" + post, "", 400, "unsupported_grant_type", false},
			{"scope_beyond_the_clients", "POST", "", "", grant + post + "&scope=keys:read+audit:read", "", 400, "invalid_scope", false},
			{"unknown_scope", "POST", "", "", grant + post + "&scope=root", "", 400, "invalid_scope", false},
			{"oversized_body", "POST", "", "", grant + post + "&pad=" + strings.Repeat("a", 64<<10), "", 413, "invalid_request", false},
			{"GET", "GET", "", "", "", "", 405, "", false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				req, _ := http.NewRequest(tc.method, e.http.URL+"/api/oauth/token"+tc.path, body)
				ct := tc.contentType
				if ct == "" && tc.method == "POST" {
					ct = "application/x-www-form-urlencoded"
				}
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				if tc.authorization != "" {
					req.Header.Set("Authorization", tc.authorization)
				}
				r := e.do(req)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				var eb struct {
					Error       string `json:"error"`
					Description string `json:"error_description"`
				}
				_ = json.Unmarshal(r.Body, &eb)
				if tc.code != "" && eb.Error != tc.code {
					t.Fatalf("error %q, want %q: %s", eb.Error, tc.code, r.Body)
				}
				if tc.code != "" && (eb.Description == "" || strings.ContainsAny(eb.Description, "\r\n")) {
					t.Fatalf("description %q", eb.Description)
				}
				if strings.Contains(string(r.Body), c.secret[5:30]) || strings.Contains(string(r.Body), wrong[5:30]) {
					t.Fatal("the answer holds the secret")
				}
				if tc.method == "POST" && r.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("Cache-Control %q", r.Header.Get("Cache-Control"))
				}
				if got := r.Header.Get("WWW-Authenticate") == `Basic realm="pentographer"`; got != tc.basicChallenge {
					t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
				}
			})
		}
		t.Run("unknown_client_and_wrong_secret_answer_identically", func(t *testing.T) {
			a := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {wrong}}, "", "")
			b := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ptgc_AAAAAAAAAAAAAAAAAAAAAAAA"}, "client_secret": {c.secret}}, "", "")
			if a.Status != b.Status || string(a.Body) != string(b.Body) {
				t.Fatalf("%d %s vs %d %s", a.Status, a.Body, b.Status, b.Body)
			}
		})
		t.Run("success_headers", func(t *testing.T) {
			r := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}}, c.clientID, c.secret)
			if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
				t.Fatalf("%d %v", r.Status, r.Header)
			}
			var ok map[string]any
			_ = json.Unmarshal(r.Body, &ok)
			if ok["token_type"] != "Bearer" || ok["expires_in"] != float64(3600) || ok["scope"] != "keys:read" || ok["access_token"] == "" {
				t.Fatalf("%s", r.Body)
			}
		})
	})
}

func TestBasicCredentialsAreFormURLEncoded(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		c := e.createClient(owner, "encoded", nil)
		// RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic; our
		// alphabet needs no escaping, but an escaped form must decode the same.
		escaped := strings.ReplaceAll(url.QueryEscape(c.clientID), "_", "%5F")
		req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/api/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(escaped+":"+c.secret)))
		if r := e.do(req); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
}

func TestFailedClientAuthenticationIsRateLimited(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		c := e.createClient(owner, "limited", nil)
		bad := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret[:len(c.secret)-8] + "AAAAAAAA"}}
		limit := e.srv.cfg.ClientFailureLimit
		for i := range limit {
			if r := e.form("/api/oauth/token", bad, "", ""); r.Status != 401 {
				t.Fatalf("attempt %d: %d", i+1, r.Status)
			}
		}
		r := e.form("/api/oauth/token", bad, "", "")
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("after %d failures: %d %v", limit, r.Status, r.Header)
		}
		// The right secret is refused too while the client id is limited.
		good := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret}}
		if r := e.form("/api/oauth/token", good, "", ""); r.Status != http.StatusTooManyRequests {
			t.Fatalf("good secret while limited: %d", r.Status)
		}
		// Another client from the same address still works until the address
		// limit is reached.
		other := e.createClient(owner, "other", nil)
		e.token(other, "")
		// An attacker rotating client ids is stopped by the address limit.
		for i := range e.srv.cfg.AddressFailureLimit {
			e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {fmt.Sprintf("ptgc_%024d", i)}, "client_secret": {other.secret}}, "", "")
		}
		if r := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {other.clientID}, "client_secret": {other.secret}}, "", ""); r.Status != http.StatusTooManyRequests {
			t.Fatalf("address limit: %d %s", r.Status, r.Body)
		}
	})
}

// signWith signs claims with the server's current private key (read from the
// store), so a test can forge tokens that are correctly signed but wrong.
func signWith(t *testing.T, e *env, method jwt.SigningMethod, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	keys, err := e.st.ListSigningKeys(context.Background())
	if err != nil || len(keys) == 0 {
		t.Fatalf("signing keys: %v", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(keys[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = keys[0].ID
	tok.Header["typ"] = "at+jwt"
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	key := priv
	if method == jwt.SigningMethodHS256 {
		der, _ := x509.MarshalPKIXPublicKey(priv.(crypto.Signer).Public())
		key = der
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForgedTokensAreRefused(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		c := e.createClient(owner, "forgery target", nil)
		good := e.token(c, "")
		e.gql(good, `{ viewer { role } }`, nil).ok(t)
		pub := e.srv.cfg.PublicURL
		now := time.Now()
		claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
			m := jwt.MapClaims{
				"iss": pub, "sub": c.clientID, "client_id": c.clientID, "aud": []string{pub + "/graphql"},
				"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(), "jti": fmt.Sprint("forged-", now.UnixNano()),
				"scope": "keys:read", "org_id": owner.orgID,
			}
			if edit != nil {
				edit(m)
			}
			return m
		}
		parts := strings.Split(good, ".")
		b64 := base64.RawURLEncoding
		payload, _ := b64.DecodeString(parts[1])
		edited := strings.Replace(string(payload), `"scope":"`, `"scope":"members:write `, 1)
		noneHeader := b64.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`))
		flipped := []byte(parts[2])
		if flipped[10] == 'A' { // any other base64url character changes the signature bits
			flipped[10] = 'B'
		} else {
			flipped[10] = 'A'
		}
		cases := map[string]string{
			"control_the_real_one_works":   "",
			"alg_none":                     noneHeader + "." + parts[1] + ".",
			"HS256_signed_with_public_key": signWith(t, e, jwt.SigningMethodHS256, nil, claims(nil)),
			"edited_payload":               parts[0] + "." + b64.EncodeToString([]byte(edited)) + "." + parts[2],
			"bad_signature":                parts[0] + "." + parts[1] + "." + string(flipped),
			"unknown_kid":                  signWith(t, e, jwt.SigningMethodES256, map[string]any{"kid": "nope"}, claims(nil)),
			"no_kid":                       signWith(t, e, jwt.SigningMethodES256, map[string]any{"kid": nil}, claims(nil)),
			"wrong_typ":                    signWith(t, e, jwt.SigningMethodES256, map[string]any{"typ": "JWT"}, claims(nil)),
			"expired":                      signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["exp"] = now.Add(-2 * time.Minute).Unix() })),
			"not_yet_valid":                signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["nbf"] = now.Add(5 * time.Minute).Unix() })),
			"issued_in_the_future":         signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["iat"] = now.Add(5 * time.Minute).Unix() })),
			"no_exp":                       signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { delete(m, "exp") })),
			"wrong_issuer":                 signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["iss"] = "https://evil.example" })),
			"wrong_audience":               signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["aud"] = "https://other.example" })),
			"other_organization_claim":     signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["org_id"] = "someone-else" })),
			"unknown_client":               signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["client_id"], m["sub"] = "ptgc_x", "ptgc_x" })),
			"ES384_header_on_an_ES256_key": strings.Replace(good, parts[0], b64.EncodeToString([]byte(`{"alg":"ES384","kid":"x","typ":"at+jwt"}`)), 1),
			"garbage_with_two_dots":        "a.b.c",
			"unknown_crit_header":          signWith(t, e, jwt.SigningMethodES256, map[string]any{"crit": []string{"exp"}}, claims(nil)),
			"exp_written_as_a_string":      signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["exp"] = fmt.Sprint(now.Add(time.Hour).Unix()) })),
			"iat_written_as_a_string":      signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["iat"] = fmt.Sprint(now.Unix()) })),
			"nbf_written_as_a_string":      signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["nbf"] = fmt.Sprint(now.Unix()) })),
			"no_iat":                       signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { delete(m, "iat") })),
			"lives_longer_than_issued":     signWith(t, e, jwt.SigningMethodES256, nil, claims(func(m jwt.MapClaims) { m["iat"], m["exp"] = now.Add(-time.Minute).Unix(), now.Add(2*time.Hour).Unix() })),
		}
		for name, token := range cases {
			t.Run(name, func(t *testing.T) {
				if token == "" {
					e.gql(good, `{ viewer { role } }`, nil).ok(t)
					return
				}
				assertInvalidToken(t, e.gql(token, `{ viewer { role } }`, nil))
			})
		}
		t.Run("correctly_signed_forgery_is_accepted_so_the_cases_above_test_one_thing_each", func(t *testing.T) {
			e.gql(signWith(t, e, jwt.SigningMethodES256, nil, claims(nil)), `{ viewer { role } }`, nil).ok(t)
		})
		t.Run("expired_by_the_clock", func(t *testing.T) {
			tok := e.token(c, "")
			e.clock.advance(time.Hour + 2*time.Minute)
			defer e.clock.advance(-time.Hour - 2*time.Minute)
			assertInvalidToken(t, e.gql(tok, `{ viewer { role } }`, nil))
		})
	})
}

func TestClientRevocationAndRotation(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		t.Run("revoking_a_client_fails_its_live_tokens_on_the_next_request", func(t *testing.T) {
			c := e.createClient(tm.member, "to revoke", nil)
			tok := e.token(c, "")
			e.gql(tok, `{ viewer { role } }`, nil).ok(t)
			e.gql(tm.admin.key, revokeClientMutation, map[string]any{"id": c.id}).ok(t)
			assertInvalidToken(t, e.gql(tok, `{ viewer { role } }`, nil))
			r := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}}, c.clientID, c.secret)
			if r.Status != 401 {
				t.Fatalf("revoked client got a token: %d", r.Status)
			}
		})
		t.Run("rotating_the_secret_fails_the_old_one_at_once", func(t *testing.T) {
			c := e.createClient(tm.member, "to rotate", nil)
			tok := e.token(c, "")
			r := e.gql(tm.member.key, rotateClientMutation, map[string]any{"id": c.id}).ok(t)
			newSecret := r.str("rotateOAuthClientSecret", "clientSecret")
			if newSecret == c.secret || r.str("rotateOAuthClientSecret", "clientId") != c.clientID {
				t.Fatalf("%s", r.Body)
			}
			old := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}}, c.clientID, c.secret)
			if old.Status != 401 {
				t.Fatalf("old secret: %d", old.Status)
			}
			e.token(oauthClient{clientID: c.clientID, secret: newSecret}, "")
			e.gql(tok, `{ viewer { role } }`, nil).ok(t) // issued tokens live on until they expire
		})
		t.Run("a_token_of_a_creator_who_left_is_refused", func(t *testing.T) {
			leaver := e.addMember(tm.owner.slug, "leaver@acme.test", auth.RoleMember)
			c := e.createClient(leaver, "orphan", nil)
			tok := e.token(c, "")
			e.gql(tok, `{ viewer { role } }`, nil).ok(t)
			e.gql(tm.owner.key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": leaver.userID}}).ok(t)
			assertInvalidToken(t, e.gql(tok, `{ viewer { role } }`, nil))
		})
		t.Run("visibility_matches_api_keys", func(t *testing.T) {
			mine := e.createClient(tm.member, "mine", nil)
			theirs := e.createClient(tm.member2, "theirs", nil)
			r := e.gql(tm.member.key, `{ viewer { oauthClients { edges { node { id } } } organization { oauthClients { edges { node { id } } } } } }`, nil)
			if r.code() != "FORBIDDEN" || !strings.Contains(string(r.Body), mine.id) || strings.Contains(string(r.Body), theirs.id) {
				t.Fatalf("%s", r.Body)
			}
			r = e.gql(tm.admin.key, `{ viewer { organization { oauthClients(first: 100) { edges { node { id owner { email } } } } } } }`, nil).ok(t)
			if !strings.Contains(string(r.Body), mine.id) || !strings.Contains(string(r.Body), theirs.id) {
				t.Fatalf("%s", r.Body)
			}
			r = e.gql(tm.outsider.key, `{ viewer { organization { oauthClients(first: 100) { edges { node { id } } } } } }`, nil).ok(t)
			if strings.Contains(string(r.Body), mine.id) {
				t.Fatal("another organization sees the client")
			}
			for _, m := range []string{revokeClientMutation, rotateClientMutation} {
				for _, who := range []actor{tm.member, tm.outsider} {
					if r := e.gql(who.key, m, map[string]any{"id": theirs.id}); r.code() != "NOT_FOUND" {
						t.Fatalf("%s as %s: %s", m[:30], who.name, r.Body)
					}
				}
			}
		})
		t.Run("a_client_cannot_exceed_its_creators_role", func(t *testing.T) {
			r := e.gql(tm.member.key, createClientMutation, map[string]any{"in": map[string]any{"name": "x", "scopes": []string{"audit:read"}}})
			if r.code() != "FORBIDDEN" {
				t.Fatalf("%s", r.Body)
			}
			admin := e.addMember(tm.owner.slug, "admin2@acme.test", auth.RoleAdmin)
			c := e.createClient(admin, "admin client", []string{"audit:read", "keys:read"})
			tok := e.token(c, "")
			e.gql(tok, `{ viewer { organization { auditLog { edges { cursor } } } } }`, nil).ok(t)
			e.gql(tm.owner.key, updateRoleMutation, map[string]any{"in": map[string]any{"userId": admin.userID, "role": "MEMBER"}}).ok(t)
			r = e.gql(tok, `{ viewer { role scopes organization { auditLog { edges { cursor } } } } }`, nil)
			if r.code() != "FORBIDDEN" || r.str("viewer", "role") != "MEMBER" || strings.Contains(string(r.Body), "audit:read") {
				t.Fatalf("%s", r.Body)
			}
			if r := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"audit:read"}}, c.clientID, c.secret); r.Status != 400 {
				t.Fatalf("demoted client got audit:read: %d %s", r.Status, r.Body)
			}
		})
		t.Run("secret_is_shown_once_and_audited_without_it", func(t *testing.T) {
			c := e.createClient(tm.owner, "audited client", nil)
			e.gql(tm.owner.key, rotateClientMutation, map[string]any{"id": c.id}).ok(t)
			e.gql(tm.owner.key, revokeClientMutation, map[string]any{"id": c.id}).ok(t)
			r := e.gql(tm.owner.key, `{ viewer { oauthClients(includeRevoked: true) { edges { node { id clientId secretHint scopes status } } }
				organization { auditLog(first: 20) { edges { node { action targetId detail } } } } } }`, nil).ok(t)
			body := string(r.Body)
			if strings.Contains(body, c.secret[5:45]) || strings.Contains(e.logs.String(), c.secret[5:45]) {
				t.Fatal("the secret was shown again or logged")
			}
			for _, a := range []string{auth.ActionOAuthClientCreated, auth.ActionOAuthClientSecretRotated, auth.ActionOAuthClientRevoked} {
				if !strings.Contains(body, `"action":"`+a+`","targetId":"`+c.id+`"`) {
					t.Fatalf("audit lacks %s: %s", a, body)
				}
			}
		})
	})
}

func TestSigningKeyRotation(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		c := e.createClient(owner, "rotation", nil)
		before := e.token(c, "")
		kidOf := func(tok string) string {
			p, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			return p.Headers[0].KeyID
		}
		// Rotate from another process's point of view: a second service on the
		// same store, as `pentographer signing-keys rotate` does.
		cli := auth.NewService(e.st, auth.Options{Tokens: e.svc.Tokens()})
		newKid, err := cli.RotateSigningKey(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the server re-reads its key ring (KeyRefresh)
		after := e.token(c, "")
		if kidOf(after) != newKid || kidOf(before) == newKid {
			t.Fatalf("kids: before %s after %s new %s", kidOf(before), kidOf(after), newKid)
		}
		e.gql(before, `{ viewer { role } }`, nil).ok(t)
		e.gql(after, `{ viewer { role } }`, nil).ok(t)
		verifyWithJOSE(t, e, before, c, owner)
		verifyWithJOSE(t, e, after, c, owner)
		r := e.gql(owner.key, `{ viewer { organization { auditLog { edges { node { action targetId } } } } } }`, nil).ok(t)
		if !strings.Contains(string(r.Body), `"action":"signing_key.rotated","targetId":"`+newKid+`"`) {
			t.Fatalf("audit: %s", r.Body)
		}
		t.Run("retired_keys_leave_the_JWKS_after_their_tokens_expired", func(t *testing.T) {
			e.clock.advance(time.Hour + 2*time.Minute)
			defer e.clock.advance(-time.Hour - 2*time.Minute)
			keys, err := e.svc.JWKS(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].KeyID != newKid {
				t.Fatalf("JWKS %+v", keys)
			}
		})
	})
}

func TestARevokedSigningKeyIsWithdrawnEverywhere(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		a := newEnv(t, st)
		b := newEnv(t, st, func(o *auth.Options) { o.Tokens = a.svc.Tokens() }) // one deployment, one issuer
		owner := a.bootstrap("Acme", "owner@acme.test")
		c := a.createClient(owner, "leaky", nil)
		leaked := a.token(c, "")
		a.gql(leaked, `{ viewer { role } }`, nil).ok(t)
		b.gql(leaked, `{ viewer { role } }`, nil).ok(t)
		keys, err := st.ListSigningKeys(context.Background())
		must(t, err)
		kid := keys[0].ID
		// The operator revokes it from the command line (a service of its own).
		cli := auth.NewService(st, auth.Options{Tokens: a.svc.Tokens()})
		newKid, err := cli.RevokeSigningKey(context.Background(), kid)
		if err != nil || newKid == "" || newKid == kid {
			t.Fatalf("revoke: %q %v", newKid, err)
		}
		if _, err := cli.RevokeSigningKey(context.Background(), kid); auth.KindOf(err) != auth.KindInvalid {
			t.Fatalf("revoking twice: %v", err)
		}
		if _, err := cli.RevokeSigningKey(context.Background(), "nope"); auth.KindOf(err) != auth.KindInvalid {
			t.Fatalf("revoking an unknown kid: %v", err)
		}
		// Every replica refuses its tokens within the key refresh interval (50 ms
		// in tests) plus the cache bound.
		time.Sleep(50*time.Millisecond + auth.DefaultCacheTTL + 20*time.Millisecond)
		for _, e := range []*env{a, b} {
			assertInvalidToken(t, e.gql(leaked, `{ viewer { role } }`, nil))
			jwks, err := e.svc.JWKS(context.Background())
			must(t, err)
			for _, k := range jwks {
				if k.KeyID == kid {
					t.Fatal("the revoked key is still in the JWKS")
				}
			}
			fresh := e.token(c, "")
			e.gql(fresh, `{ viewer { role } }`, nil).ok(t)
		}
		r := a.gql(owner.key, `{ viewer { organization { auditLog(first: 5) { edges { node { action targetId } } } } } }`, nil).ok(t)
		if !strings.Contains(string(r.Body), `"action":"signing_key.revoked","targetId":"`+kid+`"`) {
			t.Fatalf("audit: %s", r.Body)
		}
	})
}

func TestIntrospection(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		rs := e.createClient(tm.owner, "resource server", nil)
		c := e.createClient(tm.member, "caller", []string{"keys:read"})
		tok := e.token(c, "")
		_, key := e.createKey(tm.member, "introspected", map[string]any{"scopes": []string{"keys:read"}})
		outsider := e.createClient(tm.outsider, "foreign", nil)
		foreignTok := e.token(outsider, "")
		introspect := func(token, basicID, basicSecret, bearer string) (int, map[string]any) {
			req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/api/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if basicID != "" {
				req.SetBasicAuth(basicID, basicSecret)
			}
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			r := e.do(req)
			var out map[string]any
			_ = json.Unmarshal(r.Body, &out)
			if r.Status == 200 && r.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q", r.Header.Get("Cache-Control"))
			}
			return r.Status, out
		}
		t.Run("an_access_token", func(t *testing.T) {
			status, out := introspect(tok, rs.clientID, rs.secret, "")
			if status != 200 || out["active"] != true || out["client_id"] != c.clientID || out["scope"] != "keys:read" ||
				out["org_id"] != tm.owner.orgID || out["jti"] == nil || out["exp"] == nil || out["sub"] != c.clientID {
				t.Fatalf("%d %v", status, out)
			}
		})
		t.Run("an_api_key_with_a_bearer_caller", func(t *testing.T) {
			status, out := introspect(key, "", "", tm.admin.key)
			if status != 200 || out["active"] != true || out["sub"] != tm.member.userID || out["scope"] != "keys:read" || out["credential_type"] != "api_key" {
				t.Fatalf("%d %v", status, out)
			}
		})
		revokedKeyID, revokedKey := e.createKey(tm.member, "revoked", nil)
		e.gql(tm.member.key, revokeKeyMutation, map[string]any{"id": revokedKeyID}).ok(t)
		for name, token := range map[string]string{
			"unknown_key":               validLookingKey(),
			"malformed":                 "ptg_nope",
			"revoked_key":               revokedKey,
			"garbage_jwt":               "a.b.c",
			"another_organizations_tok": foreignTok,
			"empty":                     "",
		} {
			t.Run("inactive_"+name, func(t *testing.T) {
				status, out := introspect(token, rs.clientID, rs.secret, "")
				if status != 200 || len(out) != 1 || out["active"] != false {
					t.Fatalf("%d %v", status, out)
				}
			})
		}
		t.Run("callers_must_authenticate", func(t *testing.T) {
			if status, _ := introspect(tok, "", "", ""); status != 401 {
				t.Fatalf("anonymous: %d", status)
			}
			if status, _ := introspect(tok, rs.clientID, rs.secret[:len(rs.secret)-4]+"AAAA", ""); status != 401 {
				t.Fatalf("wrong secret: %d", status)
			}
			if status, _ := introspect(tok, "", "", revokedKey); status != 401 {
				t.Fatalf("revoked bearer: %d", status)
			}
		})
	})
}

func TestTokenRevocationEndpoint(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		a := e.createClient(owner, "a", nil)
		b := e.createClient(owner, "b", nil)
		tokA, tokB := e.token(a, ""), e.token(b, "")
		e.gql(tokA, `{ viewer { role } }`, nil).ok(t)
		revoke := func(c oauthClient, token string) response {
			return e.form("/api/oauth/revoke", url.Values{"token": {token}, "token_type_hint": {"access_token"}}, c.clientID, c.secret)
		}
		if r := revoke(a, tokB); r.Status != 200 {
			t.Fatalf("revoking another client's token: %d", r.Status)
		}
		e.gql(tokB, `{ viewer { role } }`, nil).ok(t) // untouched
		if r := revoke(a, tokA); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		assertInvalidToken(t, e.gql(tokA, `{ viewer { role } }`, nil))
		// Revoking it again is quiet: 200, and no second audit entry.
		if r := revoke(a, tokA); r.Status != 200 {
			t.Fatalf("revoking twice: %d %s", r.Status, r.Body)
		}
		revocations := 0
		for _, ev := range auditEvents(t, e.st, owner.orgID) {
			if ev.Action == auth.ActionAccessTokenRevoked {
				revocations++
			}
		}
		if revocations != 1 {
			t.Fatalf("%d audit entries for one token revoked twice", revocations)
		}
		// A client revoked after it authenticated, while its revocation request
		// runs, is an unknown client, not a server error.
		tokB2 := e.token(b, "")
		p, err := e.svc.Authenticator().AuthenticateClient(context.Background(), b.clientID, b.secret)
		must(t, err)
		e.gql(owner.key, revokeClientMutation, map[string]any{"id": b.id}).ok(t)
		if err := e.svc.RevokeAccessToken(auth.WithPrincipal(context.Background(), p), tokB2); auth.KindOf(err) != auth.KindUnauthenticated {
			t.Fatalf("revoking as a client revoked meanwhile: %v", err)
		}
		if r := revoke(a, "not-a-token"); r.Status != 200 {
			t.Fatalf("invalid token: %d", r.Status)
		}
		if r := e.form("/api/oauth/revoke", url.Values{"token": {tokB}}, "", ""); r.Status != 401 {
			t.Fatalf("anonymous revoke: %d", r.Status)
		}
		if r := e.form("/api/oauth/revoke", url.Values{}, a.clientID, a.secret); r.Status != 400 {
			t.Fatalf("missing token: %d", r.Status)
		}
	})
}

func TestDiscoveryDocuments(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		res, err := e.http.Client().Get(e.http.URL + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		var md map[string]any
		_ = json.NewDecoder(res.Body).Decode(&md)
		res.Body.Close()
		pub := e.srv.cfg.PublicURL
		want := map[string]any{
			"issuer": pub, "token_endpoint": pub + "/api/oauth/token", "jwks_uri": pub + "/.well-known/jwks.json",
			"introspection_endpoint": pub + "/api/oauth/introspect", "revocation_endpoint": pub + "/api/oauth/revoke",
		}
		for k, v := range want {
			if md[k] != v {
				t.Errorf("%s = %v, want %v", k, md[k], v)
			}
		}
		for k, v := range map[string]string{"grant_types_supported": "client_credentials", "token_endpoint_auth_methods_supported": "client_secret_basic", "scopes_supported": "findings:read"} {
			if !strings.Contains(fmt.Sprint(md[k]), v) {
				t.Errorf("%s = %v lacks %s", k, md[k], v)
			}
		}
		// The JWKS holds public keys only.
		res, _ = e.http.Client().Get(e.http.URL + "/.well-known/jwks.json")
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) == 0 || strings.Contains(string(body), `"d"`) {
			t.Fatalf("%v %s", err, body)
		}
		for _, k := range set.Keys {
			if !k.IsPublic() || k.Algorithm != "ES256" {
				t.Fatalf("key %+v", k)
			}
		}
	})
}

func TestConcurrentTokenRequests(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		c := e.createClient(owner, "parallel", nil)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				r := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}}, c.clientID, c.secret)
				if r.Status != 200 {
					t.Errorf("%d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
	})
}
