//go:build tools

// Package tools pins the code generators this module runs with `go run`, so that
// go.mod records their versions.
package tools

import (
	_ "github.com/99designs/gqlgen"
)
