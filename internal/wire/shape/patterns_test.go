package shape

import "testing"

func TestRE2Pattern(t *testing.T) {
	for in, want := range map[string]string{
		`^[a-z]+$`:                    `^[a-z]+$`,
		`[\u0020-\uD7FF\t]*`:          `[\x{20}-\x{D7FF}\t]*`,
		`[\uD800\uDC00-\uDBFF\uDFFF]`: `[\x{10000}-\x{10FFFF}]`,
		`\\u0041`:                     `\\u0041`, // an escaped backslash, then "u0041"
		`a\\\u0041`:                   `a\\\x{41}`,
		`[\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*`: `[\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}\r\n\t]*`,
	} {
		got, err := RE2Pattern(in)
		if err != nil || got != want {
			t.Errorf("RE2Pattern(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`\uD800`, `\uDC00`, `\uD800x`, `\u12`, `\uZZZZ`} {
		if got, err := RE2Pattern(bad); err == nil {
			t.Errorf("RE2Pattern(%q) = %q, want an error", bad, got)
		}
	}
}

// The Glue models' "any printable character" pattern, anchored here to
// show what it admits: search semantics make the model's unanchored form
// admit everything.
func TestGluePrintablePattern(t *testing.T) {
	m := MustMatcher(`^[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*$`)
	for s, want := range map[string]bool{"sales_2024": true, "naïve 😀": true, "tab\tok": true, "line\nbreak": false, "\x01": false} {
		if got := m.Match(s); got != want {
			t.Errorf("Match(%q) = %v, want %v", s, got, want)
		}
	}
}
