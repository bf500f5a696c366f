package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength is the longest name, in characters, a credential may have.
const MaxNameLength = 100

// validName accepts any printable text up to MaxNameLength characters, verbatim,
// and refuses blank names, control characters and invisible formatting
// characters (Unicode category Cf: bidirectional overrides, zero-width spaces,
// soft hyphens...), which can make a name display as something else. The one
// exception is U+200D ZERO WIDTH JOINER between two emoji, which builds a single
// emoji (👩‍💻).
func validName(field, name string) error {
	if strings.TrimSpace(name) == "" {
		return invalidField(field, "%s must not be empty", field)
	}
	if !utf8.ValidString(name) {
		return invalidField(field, "%s must be valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLength {
		return invalidField(field, "%s must be at most %d characters (got %d)", field, MaxNameLength, n)
	}
	runes := []rune(name)
	for i, r := range runes {
		bad := unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
		if r == '\u200D' && i > 0 && i+1 < len(runes) && emojiBefore(runes[i-1]) && isEmoji(runes[i+1]) {
			bad = false
		}
		if bad {
			return invalidField(field, "%s must not contain control or invisible formatting characters", field)
		}
	}
	return nil
}

// isEmoji approximates Extended_Pictographic (which Go's unicode tables lack):
// the "Symbol, other" characters emoji are made of.
func isEmoji(r rune) bool { return r >= 0x2000 && unicode.Is(unicode.So, r) }

// emojiBefore reports whether r can end the emoji a joiner follows: an emoji, the
// emoji presentation selector, or a skin tone modifier.
func emojiBefore(r rune) bool {
	return isEmoji(r) || r == '\uFE0F' || (r >= 0x1F3FB && r <= 0x1F3FF)
}
