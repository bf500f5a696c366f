package loadtest

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestClientOnly keeps the harness a client of the public HTTP API, like any
// operator's tool: neither it nor its command imports the server's packages.
// (Its tests may: they start a real server in-process.)
func TestClientOnly(t *testing.T) {
	const module = "github.com/pentographer/pentographer/"
	for _, dir := range []string{".", "../cmd/ptg-load"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(path, module) && path != module+"loadtest" {
					t.Errorf("%s imports %s: the harness may talk to the server over HTTP only", f, path)
				}
			}
		}
	}
}
