package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden help files in testdata/help")

// golden compares got with testdata/help/NAME.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "help", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/pentographer -run TestHelp -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (rerun with -update if the change is intended):\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// helpEnv sets every variable, to show that help prints the table's defaults,
// not the environment's values.
func helpEnv(k string) string {
	if strings.HasPrefix(k, "PTG_") {
		return "from-the-environment"
	}
	return ""
}

func runHelp(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut lockedBuffer
	if code := run(context.Background(), args, &out, &errOut, helpEnv); code != 0 || errOut.String() != "" {
		t.Fatalf("%v: exit %d, stderr %q", args, code, errOut.String())
	}
	return out.String()
}

func TestHelpOfTheBinary(t *testing.T) {
	top := runHelp(t, "--help")
	golden(t, "pentographer", top)
	for _, args := range [][]string{{"-h"}, {"-help"}, {"help"}, {"help", "no-such-command"}} {
		if got := runHelp(t, args...); got != top {
			t.Errorf("%v prints %q", args, got)
		}
	}
	for _, c := range commands {
		if !strings.Contains(top, "\n  "+c.name+" ") {
			t.Errorf("the top-level help does not list %q", c.name)
		}
	}
}

func TestHelpOfEachCommand(t *testing.T) {
	for _, c := range commands {
		name := strings.ReplaceAll(c.name, " ", "-")
		t.Run(name, func(t *testing.T) {
			args := append(strings.Fields(c.name), "--help")
			got := runHelp(t, args...)
			golden(t, name, got)
			if other := runHelp(t, append([]string{"help"}, strings.Fields(c.name)...)...); other != got {
				t.Errorf("help %s differs from %s --help", c.name, c.name)
			}
			if strings.Contains(got, "from-the-environment") {
				t.Error("help shows the environment's values")
			}
			for _, line := range strings.Split(got, "\n") {
				if strings.Count(line, "default") > 1 {
					t.Errorf("a default shown twice: %q", line)
				}
			}
		})
	}
	// The default command's help is also what flags alone ask for.
	if got, want := runHelp(t, "-h"), runHelp(t, "serve", "-h"); got == want {
		t.Error("pentographer -h shows serve's help instead of the commands")
	}
}
