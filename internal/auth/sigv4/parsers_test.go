package sigv4

import (
	"math/rand/v2"
	"testing"
	"time"
)

// referenceAmzDate is the definition parseAmzDate must agree with.
func referenceAmzDate(d string) (time.Time, bool) {
	if len(d) != len(amzDateLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(amzDateLayout, d)
	if err != nil || t.Format(amzDateLayout) != d {
		return time.Time{}, false
	}
	return t, true
}

func referenceScopeDate(d string) bool {
	if len(d) != len(scopeDateLayout) {
		return false
	}
	_, err := time.Parse(scopeDateLayout, d)
	return err == nil
}

// TestDateParsersMatchTimeParse: the hand-written timestamp and date
// parsers accept exactly what time.Parse accepts (in canonical form) and
// give the same instant.
func TestDateParsersMatchTimeParse(t *testing.T) {
	cases := []string{
		"20261201T143005Z", "20240229T000000Z", "20230229T000000Z", "20261231T235959Z",
		"20261301T000000Z", "20261200T000000Z", "20261232T000000Z", "20260431T000000Z",
		"20261201T240000Z", "20261201T236000Z", "20261201T235960Z", "20261201 143005Z",
		"20261201T143005z", "2026120T1143005Z", "+0261201T143005Z", "2026-201T143005Z",
		"00000101T000000Z", "99991231T235959Z", "20261201T143005", "", "20261201T1430050Z",
		"２0261201T143005Z",
	}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789TZ +-x"
	for range 200000 {
		b := []byte("20261201T143005Z")
		for range 1 + r.IntN(3) {
			b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, d := range cases {
		got, ok := parseAmzDate(d)
		want, wantOK := referenceAmzDate(d)
		if ok != wantOK || !got.Equal(want) {
			t.Fatalf("parseAmzDate(%q) = %v, %v; time.Parse gives %v, %v", d, got, ok, want, wantOK)
		}
		if len(d) >= 8 {
			if got, want := validScopeDate(d[:8]), referenceScopeDate(d[:8]); got != want {
				t.Fatalf("validScopeDate(%q) = %v, time.Parse says %v", d[:8], got, want)
			}
		}
	}
	for _, d := range []string{"20261201", "2026120", "202612011", "20260230", "20240229", "2026120x"} {
		if got, want := validScopeDate(d), referenceScopeDate(d); got != want {
			t.Errorf("validScopeDate(%q) = %v, time.Parse says %v", d, got, want)
		}
	}
}

// TestNormalizePathFastPath: the fast path for paths with nothing to
// remove gives what the full normalization gives.
func TestNormalizePathFastPath(t *testing.T) {
	cases := []string{"", "/", "//", "/a", "/a/", "/a//b", "/./a", "/a/.", "/a/..", "/..", "a/b", "/a/b/c/",
		"/tags/arn%3Aaws%3Afinspace", "/a/.b/..c/...", "/a/./", "./a", "/a/b/../../..", "/%2E%2E/x"}
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "/./a%"
	for range 100000 {
		n := r.IntN(10)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	if got := normalizePath(""); got != "/" {
		t.Errorf(`normalizePath("") = %q, want "/"`, got)
	}
	for _, p := range cases {
		if p == "" {
			continue
		}
		if got, want := normalizePath(p), removeDotSegments(p); got != want {
			t.Fatalf("normalizePath(%q) = %q, removeDotSegments gives %q", p, got, want)
		}
	}
}
