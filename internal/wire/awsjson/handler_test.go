package awsjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/wire/awsjson"
	"github.com/openfinspace/openfinspace/internal/wire/glue"
	"github.com/openfinspace/openfinspace/internal/wire/shape"
)

// testAuth accepts "Authorization: ok <kind>" (root or scoped) and refuses
// anything else as the SigV4 verifier would.
type testAuth struct{}

func (testAuth) Authenticate(_ context.Context, r *http.Request, _ []byte) (auth.Caller, error) {
	switch r.Header.Get("Authorization") {
	case "ok root":
		return auth.Caller{Principal: auth.Principal{Kind: auth.Root, ARN: "arn:aws:iam::000000000000:root"}, Region: "us-east-1"}, nil
	case "ok scoped":
		return auth.Caller{Principal: auth.Principal{Kind: auth.ScopedRead, ARN: "arn:scoped"}, Region: "us-east-1"}, nil
	case "":
		return auth.Caller{}, &awsjson.APIError{Status: 403, Code: "MissingAuthenticationTokenException", Message: "Missing Authentication Token"}
	}
	return auth.Caller{}, &awsjson.APIError{Status: 403, Code: "InvalidSignatureException", Message: "bad signature"}
}

// testAuthz refuses scoped credentials everything.
type testAuthz struct{}

func (testAuthz) Authorize(_ context.Context, c auth.Caller, service, op string) error {
	if c.Principal.Kind == auth.ScopedRead {
		return fault.Deniedf("User: %s is not authorized to perform: %s:%s", c.Principal.ARN, service, op)
	}
	return nil
}

type observed struct {
	service, op string
	status      int
}

type testObserver struct{ calls []observed }

func (o *testObserver) Observe(service, op string, status int, _ time.Duration) {
	o.calls = append(o.calls, observed{service, op, status})
}

func newHandler(t *testing.T, unsupported func(*shape.Operation) error) (*awsjson.Handler, *testObserver) {
	t.Helper()
	impl := &glue.Handlers{
		GetDatabase: func(ctx context.Context, in *glue.GetDatabaseRequest) (*glue.GetDatabaseResponse, error) {
			c, _ := auth.CallerFrom(ctx)
			switch *in.Name {
			case "missing":
				return nil, fault.NotFoundf("Database %s not found.", *in.Name)
			case "secret":
				return nil, errors.New("disk /var/secret full")
			case "panic":
				panic("boom")
			}
			desc := "region " + c.Region
			return &glue.GetDatabaseResponse{Database: &glue.Database{Name: in.Name, Description: &desc,
				CreateTime: shape.NewTimestamp(time.Unix(1700000000, 500e6))}}, nil
		},
		GetTables: func(ctx context.Context, in *glue.GetTablesRequest) (*glue.GetTablesResponse, error) {
			return &glue.GetTablesResponse{TableList: []glue.Table{}}, nil
		},
		GetPartitions: func(ctx context.Context, in *glue.GetPartitionsRequest) (*glue.GetPartitionsResponse, error) {
			return &glue.GetPartitionsResponse{}, nil
		},
	}
	obs := &testObserver{}
	h := &awsjson.Handler{
		Service: &awsjson.Service{SigningName: glue.SigningName, TargetPrefix: glue.TargetPrefix, Operations: glue.Operations,
			Lookup: impl.Lookup, ErrorStatus: glue.ErrorHTTPStatus, Unsupported: unsupported},
		Auth: testAuth{}, Authz: testAuthz{}, Observer: obs, MaxBodyBytes: 1024,
	}
	h.Init()
	return h, obs
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, h http.Handler, method, authz, target, contentType, body string) response {
	t.Helper()
	r := httptest.NewRequest(method, "/", strings.NewReader(body))
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	if target != "" {
		r.Header.Set("X-Amz-Target", target)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	resp := response{status: w.Code, header: w.Header()}
	if err := json.Unmarshal(w.Body.Bytes(), &resp.body); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, target, w.Body.String(), err)
	}
	if got := w.Header().Get("x-amzn-RequestId"); len(got) != 36 {
		t.Errorf("%s %s: x-amzn-RequestId = %q", method, target, got)
	}
	if got := w.Header().Get("Content-Type"); got != awsjson.ContentType {
		t.Errorf("%s %s: Content-Type = %q", method, target, got)
	}
	return resp
}

const ct = awsjson.ContentType

func TestHandler(t *testing.T) {
	h, obs := newHandler(t, func(op *shape.Operation) error {
		return &awsjson.APIError{Status: 400, Code: "OperationNotSupportedException", Message: op.Name + " is not supported"}
	})
	for _, tc := range []struct {
		name                      string
		method, authz, target, ct string
		body                      string
		status                    int
		code                      string // "" for success
		message                   string // a part of it
	}{
		{"success", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":"sales"}`, 200, "", ""},
		{"content type parameters", "POST", "ok root", "AWSGlue.GetDatabase", ct + "; charset=utf-8", `{"Name":"sales"}`, 200, "", ""},
		{"not found", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":"missing"}`, 400, "EntityNotFoundException", "Database missing not found."},
		{"required member", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{}`, 400, "InvalidInputException", "Value at 'Name' failed to satisfy constraint: Member must not be null"},
		{"empty body is {}", "POST", "ok root", "AWSGlue.GetDatabase", ct, ``, 400, "InvalidInputException", "Member must not be null"},
		{"length", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":""}`, 400, "InvalidInputException", "Member must have length greater than or equal to 1"},
		{"range", "POST", "ok root", "AWSGlue.GetTables", ct, `{"DatabaseName":"d","MaxResults":101}`, 400, "InvalidInputException", "Member must have value less than or equal to 100"},
		{"enum", "POST", "ok root", "AWSGlue.GetTables", ct, `{"DatabaseName":"d","AttributesToGet":["COLOR"]}`, 400, "InvalidInputException", "enum value set: [NAME, TABLE_TYPE]"},
		{"nested required", "POST", "ok root", "AWSGlue.GetPartitions", ct, `{"DatabaseName":"d","TableName":"t","Segment":{"SegmentNumber":0}}`, 400, "", ""},
		{"unknown member", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":"a","Color":"red"}`, 400, "SerializationException", "unknown member 'Color'"},
		{"member name case", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"name":"a"}`, 400, "SerializationException", "unknown member 'name'"},
		{"nested unknown member", "POST", "ok root", "AWSGlue.GetTables", ct, `{"DatabaseName":"d","AuditContext":{"Nope":1}}`, 400, "SerializationException", "'AuditContext.Nope'"},
		{"repeated member", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":"a","Name":"b"}`, 400, "SerializationException", "appears twice"},
		{"wrong type", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":5}`, 400, "SerializationException", "'Name' must be a string"},
		{"object for a list", "POST", "ok root", "AWSGlue.GetTables", ct, `{"DatabaseName":"d","AttributesToGet":{}}`, 400, "SerializationException", "must be a JSON array"},
		{"not an object", "POST", "ok root", "AWSGlue.GetDatabase", ct, `["Name"]`, 400, "SerializationException", "must be a JSON object"},
		{"trailing data", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":"a"} {}`, 400, "SerializationException", "data after"},
		{"bad JSON", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":`, 400, "SerializationException", "could not be decoded"},
		{"too large", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":"` + strings.Repeat("a", 2000) + `"}`, 413, "SerializationException", "larger than the limit of 1024 bytes"},
		{"unknown target", "POST", "ok root", "AWSGlue.Nope", ct, `{}`, 400, "UnknownOperationException", `"AWSGlue.Nope" is not an operation of glue`},
		{"no target", "POST", "ok root", "", ct, `{}`, 400, "UnknownOperationException", "no X-Amz-Target"},
		{"other service's target", "POST", "ok root", "DynamoDB_20120810.GetItem", ct, `{}`, 400, "UnknownOperationException", ""},
		{"GET", "GET", "ok root", "AWSGlue.GetDatabase", ct, ``, 404, "UnknownOperationException", "POST / only"},
		{"content type", "POST", "ok root", "AWSGlue.GetDatabase", "application/json", `{"Name":"a"}`, 400, "SerializationException", "application/x-amz-json-1.1"},
		{"unsupported operation", "POST", "ok root", "AWSGlue.CreateDatabase", ct, `{"DatabaseInput":{"Name":"x"}}`, 400, "OperationNotSupportedException", "CreateDatabase is not supported"},
		{"generated but not implemented", "POST", "ok root", "AWSGlue.GetPartition", ct, `{}`, 400, "OperationNotSupportedException", "GetPartition"},
		{"unsigned", "POST", "", "AWSGlue.GetDatabase", ct, `{"Name":"a"}`, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"bad signature before unknown target", "POST", "forged", "AWSGlue.Nope", ct, `{}`, 403, "InvalidSignatureException", ""},
		{"denied", "POST", "ok scoped", "AWSGlue.GetDatabase", ct, `{"Name":"a"}`, 400, "AccessDeniedException", "not authorized to perform: glue:GetDatabase"},
		{"denied before validation", "POST", "ok scoped", "AWSGlue.GetDatabase", ct, `{"Nope":1}`, 400, "AccessDeniedException", ""},
		{"denied before unsupported", "POST", "ok scoped", "AWSGlue.CreateDatabase", ct, `{}`, 400, "AccessDeniedException", ""},
		{"internal error", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":"secret"}`, 500, "InternalServiceException", "An internal error occurred"},
		{"panic", "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":"panic"}`, 500, "InternalServiceException", "An internal error occurred"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, h, tc.method, tc.authz, tc.target, tc.ct, tc.body)
			code, _ := r.body["__type"].(string)
			msg, _ := r.body["message"].(string)
			if tc.name == "nested required" {
				// Segment.TotalSegments is required inside an optional member.
				if r.status != 400 || !strings.Contains(msg, "Value at 'Segment.TotalSegments'") {
					t.Fatalf("= %d %v", r.status, r.body)
				}
				return
			}
			if r.status != tc.status || code != tc.code || !strings.Contains(msg, tc.message) {
				t.Fatalf("= %d %q %q, want %d %q containing %q", r.status, code, msg, tc.status, tc.code, tc.message)
			}
			if tc.code != "" && r.header.Get("X-Amzn-ErrorType") != tc.code {
				t.Errorf("X-Amzn-ErrorType = %q", r.header.Get("X-Amzn-ErrorType"))
			}
			if strings.Contains(msg, "/var/secret") || strings.Contains(msg, "boom") {
				t.Errorf("the message leaks an internal cause: %q", msg)
			}
		})
	}
	// The success encodes the output with its wire names; timestamps are
	// epoch seconds.
	r := call(t, h, "POST", "ok root", "AWSGlue.GetDatabase", ct, `{"Name":"sales"}`)
	db, _ := r.body["Database"].(map[string]any)
	if db["Name"] != "sales" || db["Description"] != "region us-east-1" || db["CreateTime"] != 1700000000.5 {
		t.Errorf("GetDatabase output = %v", r.body)
	}
	r = call(t, h, "POST", "ok root", "AWSGlue.GetTables", ct, `{"DatabaseName":"d"}`)
	if list, ok := r.body["TableList"].([]any); !ok || len(list) != 0 {
		t.Errorf("GetTables output = %v", r.body)
	}
	// Metrics name the operation, "" for an unknown target.
	want := map[observed]bool{{"glue", "GetDatabase", 200}: true, {"glue", "", 400}: true, {"glue", "CreateDatabase", 400}: true}
	for _, c := range obs.calls {
		delete(want, c)
	}
	if len(want) > 0 {
		t.Errorf("observations %v lack %v", obs.calls, want)
	}
}

// Without an Unsupported function an operation without implementation is
// 501 NotImplementedException, as in restjson; a front handler's request
// id is kept.
func TestDefaultUnsupportedAndRequestID(t *testing.T) {
	h, _ := newHandler(t, nil)
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	r.Header.Set("Authorization", "ok root")
	r.Header.Set("X-Amz-Target", "AWSGlue.CreateDatabase")
	w := httptest.NewRecorder()
	w.Header().Set("x-amzn-RequestId", "11111111-2222-3333-4444-555555555555")
	h.ServeHTTP(w, r)
	if w.Code != 501 || !strings.Contains(w.Body.String(), `"__type":"NotImplementedException"`) {
		t.Errorf("= %d %s", w.Code, w.Body)
	}
	if got := w.Header().Values("x-amzn-RequestId"); len(got) != 1 || got[0] != "11111111-2222-3333-4444-555555555555" {
		t.Errorf("x-amzn-RequestId = %q", got)
	}
}

// Every operation of the table is reachable by its target: generated ones
// reach their implementation or the unsupported answer, never
// UnknownOperationException.
func TestEveryTargetRoutes(t *testing.T) {
	h, _ := newHandler(t, func(op *shape.Operation) error {
		return &awsjson.APIError{Status: 400, Code: "OperationNotSupportedException", Message: op.Name}
	})
	for _, op := range glue.Operations {
		r := call(t, h, "POST", "ok root", op.Target, ct, `{}`)
		if code, _ := r.body["__type"].(string); code == "UnknownOperationException" {
			t.Errorf("%s: %v", op.Target, r.body)
		}
	}
	if n := len(glue.Operations); n < 250 {
		t.Errorf("the Glue table has %d operations, want every operation of the model", n)
	}
	if got := fmt.Sprint(glue.OperationByTarget("AWSGlue.GetTable").Name); got != "GetTable" {
		t.Errorf("OperationByTarget(AWSGlue.GetTable) = %s", got)
	}
}
