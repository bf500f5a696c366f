package jsonw

import (
	"encoding/json"
	"testing"
)

// FuzzAppendString checks that whatever the input, the output is one JSON
// string that decodes back to it (invalid UTF-8 as U+FFFD).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "\x00\x1f\n\r\t\x7f", "\xff\xfe", "\u2028\u2029", "été 🔑", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString([]byte("x"), s)
		if b[0] != 'x' {
			t.Fatal("the prefix was overwritten")
		}
		var got string
		if err := json.Unmarshal(b[1:], &got); err != nil {
			t.Fatalf("not a JSON string: %q: %v", b[1:], err)
		}
		// Each byte of invalid UTF-8 becomes U+FFFD, as in a []rune conversion.
		if want := string([]rune(s)); got != want {
			t.Fatalf("%q encoded as %s decodes to %q, want %q", s, b[1:], got, want)
		}
	})
}
