package auth

import (
	"regexp"
	"strings"
)

// credentialShaped matches text that looks like a secret of ours or a JWT: ptg_
// keys, ptgs_ client secrets and the other ptg?_ tokens (sessions, invitations,
// password resets), whether or not well-formed, and anything shaped like a JWS
// (base64url segments of JSON, dot-separated). ptgc_ client ids are
// public and stay. A JWT, or any part of one, starts with the base64url of `{"`.
var credentialShaped = regexp.MustCompile(`ptg(?:[abd-z][a-z]{0,3})?_[0-9A-Za-z]{4,}|eyJ[0-9A-Za-z_-]{12,}(?:\.[0-9A-Za-z_-]*){0,2}`)

// RedactSecrets replaces everything credential-shaped in s, so that text a
// client sent (a path, a request id, a user agent, an error) can be logged or
// stored without ever holding a secret.
func RedactSecrets(s string) string {
	if !strings.Contains(s, "ptg") && !strings.Contains(s, "eyJ") {
		return s
	}
	return credentialShaped.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "eyJ") {
			return "[redacted JWT]"
		}
		prefix, _, _ := strings.Cut(m, "_")
		return prefix + "_[redacted]"
	})
}

// HasSecretShape reports whether s holds anything RedactSecrets would replace.
func HasSecretShape(s string) bool { return RedactSecrets(s) != s }
