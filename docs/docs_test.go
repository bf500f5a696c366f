package docs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// The guide must stand alone: every link resolves to a file of this
// repository (and to a heading there, when it names one), and nothing points
// at material that is not shipped with it.
func TestGuide(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(root, "README.md")}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, filepath.Join(root, "docs", path))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		rel, _ := filepath.Rel(root, file)
		t.Run(rel+"_links_only_to_what_the_repository_holds", func(t *testing.T) {
			for _, p := range problems(root, file) {
				t.Error(p)
			}
		})
	}
}

func TestProblemsAreFound(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("docs/other.md", "# Other page\n\n## `backup` and restore (SQLite)\n")
	for _, tc := range []struct {
		name, text string
		want       string // "" when the text is fine
	}{
		{"a_link_to_an_existing_file_and_heading_is_fine",
			"[a](other.md) [b](other.md#backup-and-restore-sqlite) ![c](other.md) [d](https://example.com/x.md) [e](#top)\n\n# Top\n", ""},
		{"a_link_inside_code_is_not_a_link", "```\n[a](missing.md)\n```\n`[b](missing.md)`\n", ""},
		{"a_missing_file", "see [it](missing.md)", "missing.md does not exist"},
		{"a_missing_heading", "see [it](other.md#nope)", "no heading #nope"},
		{"a_missing_heading_on_the_same_page", "see [it](#nope)", "no heading #nope"},
		{"a_link_out_of_the_repository", "see [it](../../outside.md)", "points outside the repository"},
		{"a_reference_definition_to_a_missing_file", "[it]: gone.md\n", "gone.md does not exist"},
		{"the_contract", "as the shared/SPEC says", "mentions shared/SPEC"},
		{"the_hosted_docs", "in the product-docs folder", "mentions product-docs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(problems(root, write("docs/page.md", tc.text)), "\n")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("problems = %q, want %q", got, tc.want)
			}
		})
	}
}

var (
	fence      = regexp.MustCompile("(?ms)^ {0,3}(```|~~~).*?^ {0,3}(```|~~~)[^\n]*$")
	codeSpan   = regexp.MustCompile("`[^`\n]*`")
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^()\s<>]*)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)`)
	scheme     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	heading    = regexp.MustCompile(`(?m)^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$`)
)

// problems lists what is wrong with the markdown file at path, whose
// repository starts at root.
func problems(root, path string) []string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, banned := range []string{"shared/SPEC", "product-docs"} {
		if strings.Contains(string(raw), banned) {
			out = append(out, "mentions "+banned+": the guide must stand alone")
		}
	}
	text := codeSpan.ReplaceAllString(fence.ReplaceAllString(string(raw), ""), "")
	var targets []string
	for _, re := range []*regexp.Regexp{inlineLink, refLink} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			targets = append(targets, m[1])
		}
	}
	for _, target := range targets {
		if target == "" || scheme.MatchString(target) {
			continue
		}
		file, anchor, _ := strings.Cut(target, "#")
		dest := path
		if file != "" {
			dest = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
			if rel, err := filepath.Rel(root, dest); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				out = append(out, fmt.Sprintf("%s points outside the repository", target))
				continue
			}
			if _, err := os.Stat(dest); err != nil {
				out = append(out, fmt.Sprintf("%s does not exist", target))
				continue
			}
		}
		if anchor != "" && strings.HasSuffix(dest, ".md") && !hasHeading(dest, anchor) {
			out = append(out, fmt.Sprintf("%s: %s has no heading #%s", target, filepath.Base(dest), anchor))
		}
	}
	return out
}

// hasHeading reports whether the markdown file has a heading whose anchor,
// as GitHub makes it, is anchor.
func hasHeading(path, anchor string) bool {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(fence.ReplaceAllString(string(raw), ""), -1) {
		slug := slugify(m[1])
		if n := seen[slug]; n > 0 {
			seen[slug]++
			slug = fmt.Sprintf("%s-%d", slug, n)
		} else {
			seen[slug] = 1
		}
		if slug == anchor {
			return true
		}
	}
	return false
}

// slugify makes a heading's anchor as GitHub does: lower case, punctuation
// dropped, spaces turned into hyphens.
func slugify(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}
