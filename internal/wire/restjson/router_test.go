package restjson

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/fault"
)

func testOps() []*Operation {
	return []*Operation{
		{Name: "ListTagsForResource", Method: "GET", URI: "/tags/{resourceArn}"},
		{Name: "TagResource", Method: "POST", URI: "/tags/{resourceArn}"},
		{Name: "GetUser", Method: "GET", URI: "/user/{userId}"},
		{Name: "DisableUser", Method: "POST", URI: "/user/{userId}/disable"},
		{Name: "ListUsers", Method: "GET", URI: "/user"},
		{Name: "GetCreds", Method: "GET", URI: "/credentials/programmatic"},
		{Name: "GetByLabel", Method: "GET", URI: "/credentials/{id}"},
	}
}

func TestRouterMatch(t *testing.T) {
	r := NewRouter(testOps())
	cases := []struct {
		method, path, op string
		labels           map[string]string
	}{
		{"GET", "/tags/arn%3Aaws%3Afinspace%3Aus-east-1%3A000000000000%3Aenvironment%2Fabc", "ListTagsForResource",
			map[string]string{"resourceArn": "arn:aws:finspace:us-east-1:000000000000:environment/abc"}},
		{"POST", "/tags/arn%3Aaws%3Afinspace%3Aus-east-1%3A0%3AkxEnvironment%2Fe%2FkxCluster%2Fc", "TagResource",
			map[string]string{"resourceArn": "arn:aws:finspace:us-east-1:0:kxEnvironment/e/kxCluster/c"}},
		{"GET", "/user/u1", "GetUser", map[string]string{"userId": "u1"}},
		{"POST", "/user/u1/disable", "DisableUser", map[string]string{"userId": "u1"}},
		{"GET", "/user", "ListUsers", nil},
		{"GET", "/credentials/programmatic", "GetCreds", nil}, // literal wins over label
		{"GET", "/credentials/other", "GetByLabel", map[string]string{"id": "other"}},
		{"GET", "/user/a%20b", "GetUser", map[string]string{"userId": "a b"}},
	}
	for _, tc := range cases {
		op, labels, _ := r.Match(tc.method, tc.path)
		if op == nil || op.Name != tc.op {
			t.Errorf("%s %s: matched %v, want %s", tc.method, tc.path, op, tc.op)
			continue
		}
		if len(labels) != len(tc.labels) {
			t.Errorf("%s %s: labels %v, want %v", tc.method, tc.path, labels, tc.labels)
		}
		for k, v := range tc.labels {
			if labels[k] != v {
				t.Errorf("%s %s: label %s = %q, want %q", tc.method, tc.path, k, labels[k], v)
			}
		}
	}
	for _, tc := range []struct {
		method, path string
		pathMatched  bool
	}{
		{"GET", "/nope", false}, {"DELETE", "/user/u1", true}, {"GET", "/user/u1/disable/x", false}, {"GET", "/user/%ZZ", false},
		// Trailing slashes and empty segments are segments: never dropped.
		{"GET", "/user/", false}, {"GET", "/user//disable", false}, {"POST", "/user/u1/disable/", false},
		{"GET", "//user", false}, {"GET", "/credentials/programmatic/", false}, {"POST", "/user//disable", false},
	} {
		op, _, pm := r.Match(tc.method, tc.path)
		if op != nil || pm != tc.pathMatched {
			t.Errorf("%s %s: matched %v pathMatched %v, want none/%v", tc.method, tc.path, op, pm, tc.pathMatched)
		}
	}
}

// TestErrorStatusMatchesModels checks the error table against both models.
func TestErrorStatusMatchesModels(t *testing.T) {
	for _, f := range []string{"finspace-2021-03-12.service.json", "finspace-data-2020-07-13.service.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "api", "models", f))
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Shapes map[string]struct {
				Exception bool `json:"exception"`
				Error     struct {
					HTTPStatusCode int `json:"httpStatusCode"`
				} `json:"error"`
			} `json:"shapes"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for name, s := range m.Shapes {
			if !s.Exception {
				continue
			}
			if got := errorStatus[name]; got != s.Error.HTTPStatusCode {
				t.Errorf("%s %s: table says %d, model says %d", f, name, got, s.Error.HTTPStatusCode)
			}
		}
	}
}

func TestToAPIErrorPicksDeclaredShape(t *testing.T) {
	tagOp := &Operation{Name: "TagResource", Errors: []string{"InternalServerException", "InvalidRequestException", "ResourceNotFoundException"}}
	createOp := &Operation{Name: "CreateKxDatabase", Errors: []string{"ValidationException", "ConflictException", "ResourceAlreadyExistsException"}}
	noConflict := &Operation{Name: "DeleteEnvironment", Errors: []string{"ValidationException", "ResourceNotFoundException"}}
	cases := []struct {
		op         *Operation
		err        error
		code       string
		status     int
		isInternal bool
	}{
		{tagOp, fault.Invalidf("too many tags"), "InvalidRequestException", 400, false},
		{tagOp, &ValidationError{Violations: []Violation{{Member: "tags", Constraint: "x"}}}, "InvalidRequestException", 400, false},
		{createOp, fault.AlreadyExistsf("exists"), "ResourceAlreadyExistsException", 409, false},
		{createOp, fault.Conflictf("token reused"), "ConflictException", 409, false},
		{noConflict, fault.Conflictf("token reused"), "ValidationException", 400, false},
		{noConflict, fault.NotFoundf("nope"), "ResourceNotFoundException", 404, false},
		{noConflict, fault.Unavailablef("later"), NotImplementedCode, 501, false},
		{noConflict, os.ErrPermission, "InternalServerException", 500, true},
	}
	for _, tc := range cases {
		ae, internal := toAPIError(tc.op, tc.err)
		if ae.Code != tc.code || ae.Status != tc.status || internal != tc.isInternal {
			t.Errorf("%s %v: got %s %d internal=%v, want %s %d internal=%v", tc.op.Name, tc.err, ae.Code, ae.Status, internal, tc.code, tc.status, tc.isInternal)
		}
		if tc.isInternal && ae.Message == tc.err.Error() {
			t.Errorf("internal error text leaked to the client: %q", ae.Message)
		}
	}
}

func TestManualPatterns(t *testing.T) {
	tag := MustMatcher(`^(?!aws:)[a-zA-Z+-=._:/]+$`)
	for s, want := range map[string]bool{"env": true, "aws:x": false, "aws": true, "a:b/c.d": true, "": false, "a b": false} {
		if tag.Match(s) != want {
			t.Errorf("TagKey %q = %v, want %v", s, !want, want)
		}
	}
	role := MustMatcher(`^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w-\/.@+=,]{1,1017}$`)
	long := "arn:aws:iam::123456789012:role/"
	for s, want := range map[string]bool{
		long + "my-role":                     true,
		long + "path/to/role@x":              true,
		long:                                 false,
		"arn:aws:iam::12345:role/r":          false,
		long + string(make([]byte, 0)) + "a": true,
	} {
		if role.Match(s) != want {
			t.Errorf("ExecutionRoleArn %q = %v, want %v", s, !want, want)
		}
	}
	tooLong := long
	for range 1018 {
		tooLong += "a"
	}
	if role.Match(tooLong) {
		t.Error("ExecutionRoleArn accepted a 1018-character role name")
	}
	key := MustMatcher(`^(?![Aa][Ww][Ss])(s|([a-zA-Z][a-zA-Z0-9_]+))|(AWS_ZIP_DEFAULT)`)
	for s, want := range map[string]bool{"s": true, "procname": true, "AWSfoo": false, "awsx": false, "AWS_ZIP_DEFAULT": true, "1abc": false, "g": false} {
		if key.Match(s) != want {
			t.Errorf("KxCommandLineArgumentKey %q = %v, want %v", s, !want, want)
		}
	}
}

// TestEscapedPath: the handler routes on the request line's path, which is
// what net/http's URL.EscapedPath gives for requests read from the wire.
func TestEscapedPath(t *testing.T) {
	for _, target := range []string{
		"/environment/abc", "/tags/arn%3Aaws%3Afinspace%3Aus-east-1%3A000000000000%3Aenvironment%2Fabc",
		"/tags/arn:aws:finspace:us-east-1:000000000000:environment/abc?tagKeys=a&tagKeys=b",
		"/kx/environments/e/databases/d%20b/changesets", "/a%7eb/c~d", "/", "/x%2F%2Fy?q=%2F",
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := escapedPath(r), r.URL.EscapedPath(); got != want {
			t.Errorf("%s: escapedPath %q, EscapedPath %q", target, got, want)
		}
	}
	r := httptest.NewRequest("GET", "http://h/environment/x%2Fy", nil)
	r.RequestURI = "http://h/environment/x%2Fy" // absolute form
	if got := escapedPath(r); got != "/environment/x%2Fy" {
		t.Errorf("absolute-form request: %q", got)
	}
}
