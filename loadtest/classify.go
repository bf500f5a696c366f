package loadtest

import (
	"encoding/json"
	"strconv"
	"strings"
)

// A reply is what came back for one request: a status and body, or, with status
// 0, the transport error that stopped it.
type reply struct {
	status int
	body   []byte
	err    string
}

// Error classes. A successful request has the class "" (classOK). Any other
// class is one of:
//
//	http_<status>[:<error>]  a non-200 answer, with the OAuth/bearer "error" field
//	graphql:<code>           a 200 whose GraphQL errors carry extensions.code
//	transport:<kind>         no answer: timeout, connection_refused, connection_reset, eof, other
//	bad_response             a 200 that is not the answer the request asks for
const (
	classOK          = ""
	classBadResponse = "bad_response"
)

// gqlReply is the part of a GraphQL answer the harness reads.
type gqlReply struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// classifyGraphQL classes a GraphQL answer and returns its data when it succeeded.
// A success is a 200 with non-null data and no errors.
func classifyGraphQL(r reply) (string, json.RawMessage) {
	if c, done := classifyTransport(r); done {
		return c, nil
	}
	var g gqlReply
	if err := json.Unmarshal(r.body, &g); err != nil {
		return classBadResponse, nil
	}
	if len(g.Errors) > 0 {
		code, _ := g.Errors[0].Extensions["code"].(string)
		if code == "" {
			code = "NO_CODE"
		}
		return "graphql:" + code, nil
	}
	if len(g.Data) == 0 || string(g.Data) == "null" {
		return classBadResponse, nil
	}
	return classOK, g.Data
}

// tokenReply is a successful token endpoint answer.
type tokenReply struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// classifyToken classes a token endpoint answer and returns the token when one
// was issued.
func classifyToken(r reply) (string, tokenReply) {
	if c, done := classifyTransport(r); done {
		return c, tokenReply{}
	}
	var t tokenReply
	if err := json.Unmarshal(r.body, &t); err != nil || t.AccessToken == "" || !strings.EqualFold(t.TokenType, "Bearer") || t.ExpiresIn <= 0 {
		return classBadResponse, tokenReply{}
	}
	return classOK, t
}

// classifyTransport handles what both endpoints share: transport errors and
// non-200 statuses. done is false for a 200, which the caller reads further.
func classifyTransport(r reply) (class string, done bool) {
	if r.status == 0 {
		return transportClass(r.err), true
	}
	if r.status == 200 {
		return "", false
	}
	c := "http_" + strconv.Itoa(r.status)
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(r.body, &e) == nil && e.Error != "" && len(e.Error) <= 40 && isToken(e.Error) {
		c += ":" + e.Error
	}
	return c, true
}

// transportClass reduces a transport error message to a short, stable kind; the
// message itself names addresses and ports that would split one cause into many
// classes.
func transportClass(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "timeout") || strings.Contains(m, "deadline exceeded"):
		return "transport:timeout"
	case strings.Contains(m, "connection refused"):
		return "transport:connection_refused"
	case strings.Contains(m, "connection reset") || strings.Contains(m, "broken pipe"):
		return "transport:connection_reset"
	case strings.Contains(m, "too many open files"):
		return "transport:too_many_open_files"
	case strings.HasSuffix(m, "eof"):
		return "transport:eof"
	case strings.Contains(m, "context canceled"):
		return "transport:canceled"
	}
	return "transport:other"
}

// isToken reports whether s is a plain error code (letters, digits, _ and -), so
// nothing else from a body ends up in a class name.
func isToken(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isLimited reports a class that is the server applying one of its documented
// limits (creation rate, active credential caps, failed authentication rate):
// not a failure of the server, reported on its own.
func isLimited(class string) bool {
	return class == "graphql:RATE_LIMITED" || class == "graphql:LIMIT_EXCEEDED" || strings.HasPrefix(class, "http_429")
}

// isServerError reports a 5xx answer, or a GraphQL INTERNAL error (the 500 of a
// GraphQL answer).
func isServerError(class string) bool {
	return strings.HasPrefix(class, "http_5") || class == "graphql:INTERNAL"
}

// isRefused reports a class that says "this credential is not valid": the bearer
// 401 of RFC 6750, the invalid_client 401 of the token endpoint, or a GraphQL
// UNAUTHENTICATED.
func isRefused(class string) bool {
	return strings.HasPrefix(class, "http_401") || class == "graphql:UNAUTHENTICATED"
}

// A verdict is what a probe proves.
type verdict int

const (
	verdictOK           verdict = iota // the server kept its promise
	verdictLost                        // an acknowledged credential is refused, missing, or not found
	verdictStale                       // a revoked credential was accepted
	verdictInconclusive                // the probe failed for another reason: no evidence either way
)

func (v verdict) String() string {
	return [...]string{"ok", "lost", "stale", "inconclusive"}[v]
}

// judgeAlive judges a request made with a credential the server acknowledged and
// nobody revoked: a refusal means the write was lost.
func judgeAlive(class string) verdict {
	switch {
	case class == classOK:
		return verdictOK
	case isRefused(class):
		return verdictLost
	}
	return verdictInconclusive
}

// judgeListed judges the later probe of a created key: it must still work and
// be in its owner's listing.
func judgeListed(class string, listed bool) verdict {
	if class == classOK && !listed {
		return verdictLost
	}
	return judgeAlive(class)
}

// judgeRevoked judges a request made with a credential whose revocation the
// server acknowledged: any success is a stale accept.
func judgeRevoked(class string) verdict {
	switch {
	case class == classOK:
		return verdictStale
	case isRefused(class):
		return verdictOK
	}
	return verdictInconclusive
}

// judgeRevoke judges the answer to revoking a credential the harness created:
// NOT_FOUND means the server no longer knows an acknowledged credential.
func judgeRevoke(class string) verdict {
	switch class {
	case classOK:
		return verdictOK
	case "graphql:NOT_FOUND":
		return verdictLost
	}
	return verdictInconclusive
}
