package shape

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
)

// manualPatterns holds matchers for the model patterns Go's RE2 engine
// cannot compile (lookahead, repeat counts above 1000). Each is rewritten
// into an equivalent RE2 expression plus explicit checks. Read-only.
var manualPatterns = map[string]func(string) bool{
	// TagKey: a key that does not start with "aws:".
	`^(?!aws:)[a-zA-Z+-=._:/]+$`: func(s string) bool {
		return !strings.HasPrefix(s, "aws:") && tagKeyBody.MatchString(s)
	},
	// ExecutionRoleArn: {1,1017} exceeds RE2's repeat limit of 1000.
	`^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w-\/.@+=,]{1,1017}$`: func(s string) bool {
		m := executionRoleArn.FindStringSubmatch(s)
		return m != nil && len(m[1]) >= 1 && len(m[1]) <= 1017
	},
	// KxCommandLineArgumentKey: the alternation is not grouped, so it reads
	// (^(?![Aa][Ww][Ss])(s|([a-zA-Z][a-zA-Z0-9_]+))) | (AWS_ZIP_DEFAULT),
	// both with search semantics.
	`^(?![Aa][Ww][Ss])(s|([a-zA-Z][a-zA-Z0-9_]+))|(AWS_ZIP_DEFAULT)`: func(s string) bool {
		if strings.Contains(s, "AWS_ZIP_DEFAULT") {
			return true
		}
		if len(s) >= 3 && strings.EqualFold(s[:3], "aws") {
			return false
		}
		return cmdArgKeyHead.MatchString(s)
	},
}

var (
	tagKeyBody       = regexp.MustCompile(`^[a-zA-Z+-=._:/]+$`)
	executionRoleArn = regexp.MustCompile(`^arn:aws[a-z0-9-]*:iam::\d{12}:role\/([\w-\/.@+=,]+)$`)
	cmdArgKeyHead    = regexp.MustCompile(`^(s|([a-zA-Z][a-zA-Z0-9_]+))`)
)

// RE2Pattern rewrites the escapes of a model pattern that RE2 lacks into
// its own: the models' patterns are ECMAScript/Java regular expressions,
// whose \uXXXX escapes (UTF-16 code units, a surrogate pair for a code
// point above U+FFFF) Go's regexp does not know. \uXXXX becomes \x{XXXX}
// and a pair \uD800\uDC00 becomes \x{10000}. Everything else is kept as
// written. It fails on a lone surrogate, which no Go string can contain.
func RE2Pattern(pattern string) (string, error) {
	if !strings.Contains(pattern, `\u`) {
		return pattern, nil
	}
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '\\' || i+1 >= len(pattern) {
			b.WriteByte(c)
			continue
		}
		if pattern[i+1] != 'u' {
			b.WriteString(pattern[i : i+2]) // another escape, \\ included
			i++
			continue
		}
		u, ok := codeUnit(pattern, i)
		if !ok {
			return "", fmt.Errorf("pattern %q: malformed \\u escape at offset %d", pattern, i)
		}
		i += 5
		r := rune(u)
		switch {
		case utf16.IsSurrogate(r) && u < 0xDC00:
			low, ok := codeUnit(pattern, i+1)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return "", fmt.Errorf("pattern %q: high surrogate \\u%04X without a low one", pattern, u)
			}
			r = utf16.DecodeRune(r, rune(low))
			i += 6
		case utf16.IsSurrogate(r):
			return "", fmt.Errorf("pattern %q: lone low surrogate \\u%04X", pattern, u)
		}
		fmt.Fprintf(&b, `\x{%X}`, r)
	}
	return b.String(), nil
}

// codeUnit parses the \uXXXX escape at pattern[i:].
func codeUnit(pattern string, i int) (uint16, bool) {
	if i+6 > len(pattern) || pattern[i] != '\\' || pattern[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(pattern[i+2:i+6], 16, 16)
	return uint16(n), err == nil
}
