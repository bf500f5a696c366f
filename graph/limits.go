package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Limits bound what one GraphQL request may ask for.
type Limits struct {
	// MaxDepth is the deepest selection nesting allowed outside introspection.
	MaxDepth int
	// MaxAliases is how many aliased fields one document may have.
	MaxAliases int
	// MaxFields bounds the selections walked, fragments expanded; it stops
	// fragment fan-out from blowing up.
	MaxFields int
	// MaxRepeats is how often one response name may be selected in one selection
	// set. Validation compares such fields pairwise, so this keeps it linear.
	MaxRepeats int
	// MaxMutations is how many mutation fields one request may run.
	MaxMutations int
	// MaxComplexity is gqlgen's complexity limit (connections count per item).
	MaxComplexity int
	// MaxTokens is the parser token limit, which refuses huge documents before
	// anything else.
	MaxTokens int
}

// DefaultLimits fit every query the explorer and the settings page send with room
// to spare, including the standard introspection query of graphql-js and GraphiQL.
var DefaultLimits = Limits{
	MaxDepth: 12, MaxAliases: 30, MaxFields: 500, MaxRepeats: 5, MaxMutations: 10,
	MaxComplexity: 5000, MaxTokens: 3000,
}

// orDefaults fills every unset limit from DefaultLimits.
func (l Limits) orDefaults() Limits {
	d := DefaultLimits
	for _, f := range []struct{ v, def *int }{
		{&l.MaxDepth, &d.MaxDepth}, {&l.MaxAliases, &d.MaxAliases}, {&l.MaxFields, &d.MaxFields},
		{&l.MaxRepeats, &d.MaxRepeats}, {&l.MaxMutations, &d.MaxMutations},
		{&l.MaxComplexity, &d.MaxComplexity}, {&l.MaxTokens, &d.MaxTokens},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return l
}

// Introspection is bounded by the schema rather than by MaxDepth: its answer
// can only be as deep as the type references of the schema are. What keeps a
// hostile introspection query cheap are the rules graphql-js 16 applies: at most
// maxIntrospectionLists nested list fields of __Type (fields, interfaces,
// possibleTypes, inputFields), and a bounded ofType chain (graphql-js asks for 9
// levels; no real schema wraps a type deeper than a few).
const (
	maxIntrospectionLists = 3
	maxOfTypeChain        = 16
)

// cheapLimits enforces the limits on the parsed document before gqlgen validates
// it: validation does real work (gqlparser's overlapping-fields rule is
// quadratic in repeated fields), so a hostile document must be refused first.
// A document in the query cache has passed already and is not parsed again.
type cheapLimits struct {
	limits Limits
	cache  graphql.Cache[*ast.QueryDocument]
}

var (
	_ graphql.HandlerExtension          = cheapLimits{}
	_ graphql.OperationParameterMutator = cheapLimits{}
)

func (cheapLimits) ExtensionName() string                   { return "CheapLimits" }
func (cheapLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l cheapLimits) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if _, ok := l.cache.Get(ctx, params.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: params.Query}, l.limits.MaxTokens)
	if err != nil {
		// gqlgen parses again and reports the syntax error with its own code;
		// the token limit makes that second parse as cheap as this one.
		return nil
	}
	if msg := checkShape(doc, l.limits); msg != "" {
		e := gqlerror.Errorf("%s", msg)
		errcode.Set(e, errcode.ValidationFailed)
		return e
	}
	return nil
}

// checkShape walks every operation and fragment definition of doc and returns
// the first limit it breaks ("" when none).
func checkShape(doc *ast.QueryDocument, limits Limits) string {
	w := shapeWalker{doc: doc, limits: limits, visiting: map[string]bool{}, spread: map[string]bool{}}
	for _, op := range doc.Operations {
		if op.Operation == ast.Mutation {
			if n := w.countRootFields(op.SelectionSet, map[string]bool{}); n > limits.MaxMutations {
				return fmt.Sprintf("a request may run at most %d mutations (this one has %d)", limits.MaxMutations, n)
			}
		}
		w.walk(op.SelectionSet, 1, introspectionState{})
	}
	// Fragment definitions are validated whether or not they are spread, so those
	// never spread count on their own too; on introspection types they are
	// introspection.
	for _, f := range doc.Fragments {
		if w.spread[f.Name] {
			continue
		}
		w.walk(f.SelectionSet, 1, introspectionState{inside: strings.HasPrefix(f.TypeCondition, "__")})
	}
	return w.err
}

// introspectionState tracks a walk inside __schema or __type.
type introspectionState struct {
	inside bool
	lists  int // nested __Type list fields so far
	ofType int // length of the current ofType chain
}

type shapeWalker struct {
	doc      *ast.QueryDocument
	limits   Limits
	fields   int
	aliases  int
	visiting map[string]bool // fragments being expanded, to stop cycles
	spread   map[string]bool // fragments spread somewhere
	err      string
}

func (w *shapeWalker) fail(msg string) { w.err = msg }

func (w *shapeWalker) walk(set ast.SelectionSet, depth int, in introspectionState) {
	if w.err != "" || len(set) == 0 {
		return
	}
	if depth > w.limits.MaxDepth && !in.inside {
		w.fail("the query is nested too deeply")
		return
	}
	w.walkSet(set, depth, in, map[string]int{})
}

// walkSet walks the selections of one selection set; fragments spread into it
// share its count of repeated response names, as validation merges them.
func (w *shapeWalker) walkSet(set ast.SelectionSet, depth int, in introspectionState, repeats map[string]int) {
	for _, sel := range set {
		if w.err != "" {
			return
		}
		w.fields++
		if w.fields > w.limits.MaxFields {
			w.fail("the query selects too many fields")
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			name := s.Alias
			if name == "" {
				name = s.Name
			}
			if name != s.Name {
				w.aliases++
				if w.aliases > w.limits.MaxAliases {
					w.fail("the query uses too many aliases")
					return
				}
			}
			repeats[name]++
			if repeats[name] > w.limits.MaxRepeats {
				w.fail(fmt.Sprintf("the query selects %q more than %d times in one place", truncateName(name), w.limits.MaxRepeats))
				return
			}
			next := in.enter(s.Name)
			if in.inside {
				if w.checkIntrospection(next); w.err != "" {
					return
				}
			}
			w.walk(s.SelectionSet, depth+1, next)
		case *ast.InlineFragment:
			w.walkSet(s.SelectionSet, depth, in, repeats)
		case *ast.FragmentSpread:
			f := w.doc.Fragments.ForName(s.Name)
			if f == nil {
				continue // validation reports the unknown fragment
			}
			if w.visiting[s.Name] {
				w.fail("the query's fragments spread each other in a cycle")
				return
			}
			w.visiting[s.Name], w.spread[s.Name] = true, true
			w.walkSet(f.SelectionSet, depth, in, repeats)
			delete(w.visiting, s.Name)
		}
	}
}

// enter returns the introspection state below a field named name.
func (in introspectionState) enter(name string) introspectionState {
	switch {
	case !in.inside:
		if name == "__schema" || name == "__type" {
			return introspectionState{inside: true}
		}
		return in
	case name == "fields" || name == "interfaces" || name == "possibleTypes" || name == "inputFields":
		in.lists++
		in.ofType = 0
	case name == "ofType":
		in.ofType++
	default:
		in.ofType = 0
	}
	return in
}

func (w *shapeWalker) checkIntrospection(in introspectionState) {
	switch {
	case in.lists >= maxIntrospectionLists:
		w.fail("the introspection query nests fields, interfaces, possibleTypes or inputFields too deeply")
	case in.ofType > maxOfTypeChain:
		w.fail(fmt.Sprintf("the introspection query nests ofType more than %d levels", maxOfTypeChain))
	}
}

// countRootFields counts the fields a mutation's selection set runs, fragments
// expanded.
func (w *shapeWalker) countRootFields(set ast.SelectionSet, seen map[string]bool) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n++
		case *ast.InlineFragment:
			n += w.countRootFields(s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if f := w.doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
				seen[s.Name] = true
				n += w.countRootFields(f.SelectionSet, seen)
				delete(seen, s.Name)
			}
		}
	}
	return n
}

// truncateName keeps an error message short whatever the client sent.
func truncateName(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
