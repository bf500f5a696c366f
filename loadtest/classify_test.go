package loadtest

import (
	"testing"
)

func TestClassifyGraphQL(t *testing.T) {
	tests := []struct {
		name  string
		in    reply
		class string
	}{
		{name: "a_200_with_data_succeeds", in: reply{status: 200, body: []byte(`{"data":{"viewer":{"role":"OWNER"}}}`)}, class: classOK},
		{name: "a_bearer_401_names_its_error", in: reply{status: 401, body: []byte(`{"error":"invalid_token","error_description":"the credential is unknown or revoked"}`)}, class: "http_401:invalid_token"},
		{name: "a_500_without_a_body_is_its_status", in: reply{status: 500, body: []byte(`oops`)}, class: "http_500"},
		{name: "a_503_with_json_is_its_status", in: reply{status: 503, body: []byte(`{"status":"unavailable"}`)}, class: "http_503"},
		{name: "an_odd_error_field_is_not_copied_into_the_class", in: reply{status: 400, body: []byte(`{"error":"ptg_secret value here"}`)}, class: "http_400"},
		{name: "a_graphql_error_is_its_code", in: reply{status: 200, body: []byte(`{"errors":[{"message":"slow down","extensions":{"code":"RATE_LIMITED"}}],"data":{"createApiKey":null}}`)}, class: "graphql:RATE_LIMITED"},
		{name: "a_cap_is_its_code", in: reply{status: 200, body: []byte(`{"errors":[{"message":"at most 200 active keys","extensions":{"code":"LIMIT_EXCEEDED"}}],"data":null}`)}, class: "graphql:LIMIT_EXCEEDED"},
		{name: "a_graphql_error_without_a_code_says_so", in: reply{status: 200, body: []byte(`{"errors":[{"message":"x"}]}`)}, class: "graphql:NO_CODE"},
		{name: "a_422_graphql_validation_error_is_its_status", in: reply{status: 422, body: []byte(`{"errors":[{"message":"bad"}]}`)}, class: "http_422"},
		{name: "null_data_is_a_bad_response", in: reply{status: 200, body: []byte(`{"data":null}`)}, class: classBadResponse},
		{name: "html_is_a_bad_response", in: reply{status: 200, body: []byte(`<html>`)}, class: classBadResponse},
		{name: "a_timeout_is_a_transport_timeout", in: reply{err: `Post "http://127.0.0.1:1/graphql": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`}, class: "transport:timeout"},
		{name: "a_refused_connection_is_named", in: reply{err: "dial tcp 127.0.0.1:1: connect: connection refused"}, class: "transport:connection_refused"},
		{name: "a_reset_is_named", in: reply{err: "read tcp 127.0.0.1:5->127.0.0.1:6: read: connection reset by peer"}, class: "transport:connection_reset"},
		{name: "an_eof_is_named", in: reply{err: `Post "http://x/graphql": EOF`}, class: "transport:eof"},
		{name: "anything_else_is_other", in: reply{err: "tls: handshake failure"}, class: "transport:other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class, data := classifyGraphQL(tt.in)
			if class != tt.class {
				t.Fatalf("class %q, want %q", class, tt.class)
			}
			if (class == classOK) != (data != nil) {
				t.Fatalf("class %q with data %s", class, data)
			}
		})
	}
}

func TestClassifyToken(t *testing.T) {
	tests := []struct {
		name  string
		in    reply
		class string
	}{
		{name: "a_token_succeeds", in: reply{status: 200, body: []byte(`{"access_token":"eyJ.x.y","token_type":"Bearer","expires_in":3600}`)}, class: classOK},
		{name: "a_200_without_a_token_is_a_bad_response", in: reply{status: 200, body: []byte(`{"token_type":"Bearer","expires_in":3600}`)}, class: classBadResponse},
		{name: "a_token_without_a_lifetime_is_a_bad_response", in: reply{status: 200, body: []byte(`{"access_token":"a","token_type":"Bearer"}`)}, class: classBadResponse},
		{name: "a_refused_client_is_invalid_client", in: reply{status: 401, body: []byte(`{"error":"invalid_client","error_description":"client authentication failed"}`)}, class: "http_401:invalid_client"},
		{name: "too_many_failures_is_a_429", in: reply{status: 429, body: []byte(`{"error":"slow_down"}`)}, class: "http_429:slow_down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class, tok := classifyToken(tt.in)
			if class != tt.class {
				t.Fatalf("class %q, want %q", class, tt.class)
			}
			if (class == classOK) != (tok.AccessToken != "") {
				t.Fatalf("class %q with token %q", class, tok.AccessToken)
			}
		})
	}
}

func TestClassKinds(t *testing.T) {
	tests := []struct {
		class                       string
		limited, serverErr, refused bool
	}{
		{class: classOK},
		{class: "graphql:RATE_LIMITED", limited: true},
		{class: "graphql:LIMIT_EXCEEDED", limited: true},
		{class: "http_429:slow_down", limited: true},
		{class: "http_429", limited: true},
		{class: "http_500", serverErr: true},
		{class: "http_503", serverErr: true},
		{class: "graphql:INTERNAL", serverErr: true},
		{class: "http_401:invalid_token", refused: true},
		{class: "http_401:invalid_client", refused: true},
		{class: "graphql:UNAUTHENTICATED", refused: true},
		{class: "graphql:FORBIDDEN"},
		{class: "transport:timeout"},
		{class: "http_400:invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			if got := isLimited(tt.class); got != tt.limited {
				t.Errorf("isLimited = %v", got)
			}
			if got := isServerError(tt.class); got != tt.serverErr {
				t.Errorf("isServerError = %v", got)
			}
			if got := isRefused(tt.class); got != tt.refused {
				t.Errorf("isRefused = %v", got)
			}
		})
	}
}

func TestProbeVerdicts(t *testing.T) {
	tests := []struct {
		name  string
		judge func(string) verdict
		class string
		want  verdict
	}{
		{name: "an_acknowledged_key_that_works_is_ok", judge: judgeAlive, class: classOK, want: verdictOK},
		{name: "an_acknowledged_key_refused_is_lost", judge: judgeAlive, class: "http_401:invalid_token", want: verdictLost},
		{name: "an_acknowledged_client_refused_at_the_token_endpoint_is_lost", judge: judgeAlive, class: "http_401:invalid_client", want: verdictLost},
		{name: "an_acknowledged_key_probe_that_times_out_proves_nothing", judge: judgeAlive, class: "transport:timeout", want: verdictInconclusive},
		{name: "an_acknowledged_key_probe_answered_500_proves_nothing", judge: judgeAlive, class: "http_500", want: verdictInconclusive},
		{name: "an_acknowledged_key_probe_rate_limited_proves_nothing", judge: judgeAlive, class: "http_429", want: verdictInconclusive},

		{name: "a_listed_key_is_ok", judge: func(c string) verdict { return judgeListed(c, true) }, class: classOK, want: verdictOK},
		{name: "a_working_key_missing_from_the_listing_is_lost", judge: func(c string) verdict { return judgeListed(c, false) }, class: classOK, want: verdictLost},
		{name: "a_refused_key_is_lost_whatever_the_listing", judge: func(c string) verdict { return judgeListed(c, false) }, class: "http_401:invalid_token", want: verdictLost},
		{name: "a_listing_that_failed_proves_nothing", judge: func(c string) verdict { return judgeListed(c, false) }, class: "graphql:INTERNAL", want: verdictInconclusive},

		{name: "a_revoked_key_accepted_is_a_stale_accept", judge: judgeRevoked, class: classOK, want: verdictStale},
		{name: "a_revoked_key_refused_is_ok", judge: judgeRevoked, class: "http_401:invalid_token", want: verdictOK},
		{name: "a_revoked_clients_secret_refused_is_ok", judge: judgeRevoked, class: "http_401:invalid_client", want: verdictOK},
		{name: "a_revoked_key_probe_answered_500_proves_nothing", judge: judgeRevoked, class: "http_500", want: verdictInconclusive},
		{name: "a_revoked_key_probe_with_no_answer_proves_nothing", judge: judgeRevoked, class: "transport:connection_reset", want: verdictInconclusive},
		{name: "a_revoked_key_that_answers_garbage_is_not_an_accept", judge: judgeRevoked, class: classBadResponse, want: verdictInconclusive},

		{name: "an_acknowledged_revocation_is_ok", judge: judgeRevoke, class: classOK, want: verdictOK},
		{name: "revoking_an_acknowledged_key_answered_not_found_is_lost", judge: judgeRevoke, class: "graphql:NOT_FOUND", want: verdictLost},
		{name: "a_revocation_that_failed_is_inconclusive", judge: judgeRevoke, class: "transport:timeout", want: verdictInconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.judge(tt.class); got != tt.want {
				t.Fatalf("verdict for %q = %v, want %v", tt.class, got, tt.want)
			}
		})
	}
}

func TestFragment(t *testing.T) {
	tests := []struct {
		name    string
		base    string
		op      Op
		arg     string
		wantArg string
	}{
		{name: "carries_an_operation", base: "http://h:1/graphql", op: OpKeyCreate},
		{name: "carries_an_operation_and_an_id", base: "http://h:1/graphql", op: OpKeyRevoke, arg: "01a2-b3", wantArg: "01a2-b3"},
		{name: "keeps_colons_in_the_argument", base: "http://h:1/api/oauth/token", op: OpTokenRead, arg: "a:b", wantArg: "a:b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := fragmentURL(tt.base, tt.op, tt.arg)
			op, arg := parseFragment(u)
			if op != tt.op || arg != tt.wantArg {
				t.Fatalf("parseFragment(%q) = %q, %q", u, op, arg)
			}
		})
	}
	if op, _ := parseFragment("http://h/graphql"); op != "" {
		t.Fatalf("a URL without a fragment has op %q", op)
	}
}
