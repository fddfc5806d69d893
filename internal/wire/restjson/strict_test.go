package restjson

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/wire/shape"
)

func TestRouterExplain(t *testing.T) {
	r := NewRouter(testOps())
	cases := []struct {
		method, path string
		op, label    string // op "" when no template fits
		problem      LabelProblem
	}{
		{"GET", "/user/", "GetUser", "userId", LabelEmpty},
		{"POST", "/user//disable", "DisableUser", "userId", LabelEmpty},
		{"GET", "/user/%ZZ", "GetUser", "userId", LabelBadEscape},
		{"GET", "/user/a%2", "GetUser", "userId", LabelBadEscape},
		{"POST", "/tags/arn%3Aaws%3", "TagResource", "resourceArn", LabelBadEscape},
		{"GET", "/credentials/", "GetByLabel", "id", LabelEmpty},
		// No template fits, whatever the labels hold: 404.
		{"GET", "/user//disable", "", "", LabelOK},             // DisableUser is POST
		{"POST", "/user/u1/disable/", "", "", LabelOK},         // one segment too many
		{"GET", "/nope/", "", "", LabelOK},                     //
		{"GET", "//user", "", "", LabelOK},                     // literal "user" is not ""
		{"GET", "/user/u1", "", "", LabelOK},                   // fits fully: Match's business
		{"GET", "/us%ZZer", "", "", LabelOK},                   // bad escape in a literal
		{"DELETE", "/tags/", "", "", LabelOK},                  // no DELETE template
		{"GET", "/credentials/programmatic/", "", "", LabelOK}, // 3 segments
	}
	for _, tc := range cases {
		op, label, problem := r.Explain(tc.method, tc.path)
		name := ""
		if op != nil {
			name = op.Name
		}
		if name != tc.op || label != tc.label || problem != tc.problem {
			t.Errorf("%s %s: Explain = %q %q %v, want %q %q %v", tc.method, tc.path, name, label, problem, tc.op, tc.label, tc.problem)
		}
	}
	var ve *ValidationError
	if err := LabelError("userId", LabelEmpty); !errors.As(err, &ve) || ve.Violations[0].Member != "userId" {
		t.Errorf("LabelError = %v", err)
	}
}

func TestParseQuery(t *testing.T) {
	cases := []struct {
		raw    string
		want   url.Values
		member string // named by the error; "" for no error
	}{
		{"", nil, ""},
		{"maxResults=10&nextToken=a%2Fb", url.Values{"maxResults": {"10"}, "nextToken": {"a/b"}}, ""},
		{"tagKeys=a&tagKeys=b&&", url.Values{"tagKeys": {"a", "b"}}, ""},
		{"flag", url.Values{"flag": {""}}, ""},
		{"a+b=c+d", url.Values{"a b": {"c d"}}, ""},
		{"nextToken=%zz", nil, "nextToken"},
		{"maxResults=1&nextToken=abc%4", nil, "nextToken"},
		{"next%ZZToken=x", nil, "next%ZZToken"},
		{"nextToken=a;b", nil, "nextToken"},
		{"a=1;b=2", nil, "a"},
		{"a;b=1", nil, "a;b"},
		{strings.Repeat("k", 100) + "%=1", nil, strings.Repeat("k", maxNamedMember) + "..."},
	}
	for _, tc := range cases {
		got, err := ParseQuery(tc.raw)
		if tc.member == "" {
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseQuery(%q) = %v, %v; want %v", tc.raw, got, err, tc.want)
			}
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Member != tc.member {
			t.Errorf("ParseQuery(%q): err %v, want a validation error naming %q", tc.raw, err, tc.member)
		}
	}
}

func TestQuerySingleValued(t *testing.T) {
	p := Params{Query: url.Values{"nextToken": {"a", "b"}, "maxResults": {"1", "2"}, "ok": {"x"}, "tagKeys": {"a", "b"}}}
	cases := []struct {
		name string
		get  func() error
	}{
		{"nextToken", func() error { _, err := p.QueryString("nextToken"); return err }},
		{"maxResults", func() error { _, err := p.QueryInt32("maxResults"); return err }},
		{"maxResults", func() error { _, err := p.QueryInt64("maxResults"); return err }},
		{"maxResults", func() error { _, err := p.QueryBool("maxResults"); return err }},
		{"nextToken", func() error { _, err := shape.QueryEnum[string](p, "nextToken"); return err }},
	}
	for _, tc := range cases {
		var ve *ValidationError
		if err := tc.get(); !errors.As(err, &ve) || ve.Violations[0].Member != tc.name || !strings.Contains(ve.Error(), "at most once") {
			t.Errorf("%s repeated: err %v, want a validation error naming it", tc.name, err)
		}
	}
	if v, err := p.QueryString("ok"); err != nil || *v != "x" {
		t.Errorf("QueryString(ok) = %v, %v", v, err)
	}
	if v, err := p.QueryString("absent"); err != nil || v != nil {
		t.Errorf("QueryString(absent) = %v, %v", v, err)
	}
	if got := p.QueryStrings("tagKeys"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("QueryStrings(tagKeys) = %v: lists keep their repeats", got)
	}
}
