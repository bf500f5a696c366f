package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Limits bound what one GraphQL request may ask for.
type Limits struct {
	// MaxDepth is the deepest selection nesting allowed.
	MaxDepth int
	// MaxAliases is how many aliased fields one operation may have.
	MaxAliases int
	// MaxFields bounds the selections walked, fragments expanded; it stops
	// fragment fan-out from blowing up.
	MaxFields int
	// MaxComplexity is gqlgen's complexity limit (connections count per item).
	MaxComplexity int
	// MaxTokens is the parser token limit, which refuses huge documents before any
	// validation work.
	MaxTokens int
}

// DefaultLimits fit every query the explorer and the settings page send with room
// to spare.
var DefaultLimits = Limits{MaxDepth: 12, MaxAliases: 30, MaxFields: 2000, MaxComplexity: 5000, MaxTokens: 3000}

// shapeLimit is a gqlgen extension enforcing depth, alias and field limits.
type shapeLimit struct{ Limits }

var (
	_ graphql.HandlerExtension        = shapeLimit{}
	_ graphql.OperationContextMutator = shapeLimit{}
)

func (shapeLimit) ExtensionName() string                          { return "ShapeLimit" }
func (shapeLimit) Validate(schema graphql.ExecutableSchema) error { return nil }

func (l shapeLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	w := shapeWalker{fragments: rc.Doc.Fragments, limits: l.Limits}
	w.walk(rc.Operation.SelectionSet, 1)
	if w.err == "" {
		return nil
	}
	err := gqlerror.Errorf("%s", w.err)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

type shapeWalker struct {
	fragments ast.FragmentDefinitionList
	limits    Limits
	fields    int
	aliases   int
	err       string
}

func (w *shapeWalker) walk(set ast.SelectionSet, depth int) {
	if w.err != "" || len(set) == 0 {
		return
	}
	if depth > w.limits.MaxDepth {
		w.err = "the query is nested too deeply"
		return
	}
	for _, sel := range set {
		if w.err != "" {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			w.fields++
			if s.Alias != "" && s.Alias != s.Name {
				w.aliases++
			}
			switch {
			case w.fields > w.limits.MaxFields:
				w.err = "the query selects too many fields"
			case w.aliases > w.limits.MaxAliases:
				w.err = "the query uses too many aliases"
			default:
				w.walk(s.SelectionSet, depth+1)
			}
		case *ast.InlineFragment:
			w.walk(s.SelectionSet, depth)
		case *ast.FragmentSpread:
			if f := w.fragments.ForName(s.Name); f != nil {
				w.walk(f.SelectionSet, depth)
			}
		}
	}
}
