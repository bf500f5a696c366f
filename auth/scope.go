package auth

import (
	"fmt"
	"slices"
	"strings"
)

// The built-in scopes.
const (
	ScopeKeysRead     = "keys:read"
	ScopeKeysWrite    = "keys:write"
	ScopeClientsRead  = "clients:read"
	ScopeClientsWrite = "clients:write"
	ScopeMembersRead  = "members:read"
	ScopeMembersWrite = "members:write"
	ScopeAuditRead    = "audit:read"
)

// builtinScopes maps each built-in scope to the lowest role that may use it.
var builtinScopes = map[string]Role{
	ScopeKeysRead:     RoleMember,
	ScopeKeysWrite:    RoleMember,
	ScopeClientsRead:  RoleMember,
	ScopeClientsWrite: RoleMember,
	ScopeMembersRead:  RoleAdmin,
	ScopeMembersWrite: RoleAdmin,
	ScopeAuditRead:    RoleAdmin,
}

// Scopes is a sorted set of scope names without duplicates.
type Scopes []string

// NewScopes builds a set from names in any order, dropping duplicates.
func NewScopes(names ...string) Scopes {
	s := slices.Clone(names)
	slices.Sort(s)
	return slices.Compact(s)
}

// ParseScopes reads a space-separated scope list (as stored, or as in RFC 6749's
// scope parameter).
func ParseScopes(list string) Scopes { return NewScopes(strings.Fields(list)...) }

// Has reports whether name is in the set.
func (s Scopes) Has(name string) bool {
	_, ok := slices.BinarySearch(s, name)
	return ok
}

// Contains reports whether every scope of other is in s.
func (s Scopes) Contains(other Scopes) bool {
	for _, o := range other {
		if !s.Has(o) {
			return false
		}
	}
	return true
}

// Intersect returns the scopes in both sets.
func (s Scopes) Intersect(other Scopes) Scopes {
	out := make(Scopes, 0, len(s))
	for _, x := range s {
		if other.Has(x) {
			out = append(out, x)
		}
	}
	return out
}

// String joins the set with spaces, the RFC 6749 form.
func (s Scopes) String() string { return strings.Join(s, " ") }

// Catalog knows every scope this deployment supports: the built-in ones and the
// operator's own, and which role each needs.
type Catalog struct {
	minRole map[string]Role
	all     Scopes
	byRole  map[Role]Scopes
}

// NewCatalog adds the operator's scopes to the built-in ones. Operator scopes need
// only the MEMBER role; their names follow RFC 6749 §3.3 (printable ASCII, no
// space, quote or backslash) and may not be longer than 64 bytes.
func NewCatalog(extra []string) (*Catalog, error) {
	c := &Catalog{minRole: make(map[string]Role, len(builtinScopes)+len(extra))}
	for name, r := range builtinScopes {
		c.minRole[name] = r
	}
	for _, name := range extra {
		if err := validScopeName(name); err != nil {
			return nil, err
		}
		if _, dup := c.minRole[name]; dup {
			return nil, fmt.Errorf("scope %q is defined twice", name)
		}
		c.minRole[name] = RoleMember
	}
	names := make([]string, 0, len(c.minRole))
	for name := range c.minRole {
		names = append(names, name)
	}
	c.all = NewScopes(names...)
	c.byRole = map[Role]Scopes{}
	for _, r := range []Role{RoleMember, RoleAdmin, RoleOwner} {
		var s Scopes
		for _, name := range c.all {
			if r.AtLeast(c.minRole[name]) {
				s = append(s, name)
			}
		}
		c.byRole[r] = s
	}
	return c, nil
}

func validScopeName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("scope %q must be 1 to 64 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return fmt.Errorf("scope %q has a character RFC 6749 does not allow", name)
		}
	}
	return nil
}

// All returns every supported scope.
func (c *Catalog) All() Scopes { return c.all }

// Known reports whether name is a supported scope.
func (c *Catalog) Known(name string) bool {
	_, ok := c.minRole[name]
	return ok
}

// ForRole returns the scopes a member with role r may use.
func (c *Catalog) ForRole(r Role) Scopes { return c.byRole[r] }
