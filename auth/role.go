// Package auth is the domain of the credentials server, free of HTTP and GraphQL:
// principals, roles, scopes, credential formats, the bearer Authenticator and the
// services that decide who may do what.
package auth

import (
	"fmt"
	"strings"
)

// Role is a member's role in an organization. Roles are ordered: a higher value
// can do everything a lower one can.
type Role int

// The roles, lowest first. The zero value is no role at all.
const (
	RoleNone Role = iota
	RoleMember
	RoleAdmin
	RoleOwner
)

// String returns the role's canonical upper-case name.
func (r Role) String() string {
	switch r {
	case RoleMember:
		return "MEMBER"
	case RoleAdmin:
		return "ADMIN"
	case RoleOwner:
		return "OWNER"
	}
	return "NONE"
}

// AtLeast reports whether r is min or above.
func (r Role) AtLeast(min Role) bool { return r >= min }

// Valid reports whether r is one of the three real roles.
func (r Role) Valid() bool { return r >= RoleMember && r <= RoleOwner }

// ParseRole reads a role name, case-insensitively ("owner", "ADMIN").
func ParseRole(s string) (Role, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "MEMBER":
		return RoleMember, nil
	case "ADMIN":
		return RoleAdmin, nil
	case "OWNER":
		return RoleOwner, nil
	}
	return RoleNone, fmt.Errorf("unknown role %q (want owner, admin or member)", s)
}

// roleFromStore reads a role stored by this package; unknown text is no role.
func roleFromStore(s string) Role {
	r, err := ParseRole(s)
	if err != nil {
		return RoleNone
	}
	return r
}
