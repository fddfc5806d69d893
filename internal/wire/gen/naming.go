package main

import (
	"fmt"
	"go/token"
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// exportName upper-cases the first letter: "booleanValue" -> "BooleanValue",
// "transitGatewayID" -> "TransitGatewayID".
func exportName(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// checkIdent fails when name is not a usable exported Go identifier.
func checkIdent(name, what string) error {
	if !token.IsIdentifier(name) || !token.IsExported(name) {
		return fmt.Errorf("%s: %q is not a valid exported Go identifier", what, name)
	}
	return nil
}

// enumValueName turns an enum value into the suffix of its constant name,
// in the style of aws-sdk-go-v2: words split on anything that is not a
// letter or digit; an all-caps word is title-cased ("CREATE_FAILED" ->
// "CreateFailed", "SSD_1000" -> "Ssd1000", "allow" -> "Allow",
// "CreateDataset" -> "CreateDataset").
func enumValueName(v string) string {
	words := strings.FieldsFunc(v, func(r rune) bool {
		return !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)))
	})
	var b strings.Builder
	for _, w := range words {
		upper := true
		for _, r := range w {
			if unicode.IsLower(r) {
				upper = false
				break
			}
		}
		if upper {
			w = strings.ToLower(w)
		}
		b.WriteString(exportName(w))
	}
	s := b.String()
	if s == "" || !unicode.IsLetter(rune(s[0])) {
		s = "Value" + s
	}
	return s
}

var (
	htmlTag = regexp.MustCompile(`<[^>]*>`)
	spaces  = regexp.MustCompile(`\s+`)

	spaceBeforePunct = regexp.MustCompile(` ([.,;:)])`)
)

// docLine returns one short line of model documentation (HTML stripped,
// first sentence, at most about 110 characters), or "".
func docLine(doc string) string {
	s := htmlTag.ReplaceAllString(doc, " ")
	s = html.UnescapeString(s)
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	s = spaceBeforePunct.ReplaceAllString(s, "$1")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	const limit = 110
	if utf8.RuneCountInString(s) > limit {
		r := []rune(s)[:limit]
		cut := string(r)
		if i := strings.LastIndex(cut, " "); i > limit/2 {
			cut = cut[:i]
		}
		s = strings.TrimRight(cut, " ,;:") + "..."
	}
	return s
}

// goString quotes s as a Go string literal, preferring a raw literal for
// readability (patterns are full of backslashes).
func goString(s string) string {
	if !strings.ContainsAny(s, "`\r") && utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool {
		return r != '\t' && !unicode.IsPrint(r)
	}) < 0 {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}
