package fdclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

func ptr[T any](v T) *T { return &v }

var signingTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// recorded is one request as the server saw it.
type recorded struct {
	method, escapedPath, rawQuery, contentType string
	body                                       []byte
	hasBody                                    bool
	signatureErr                               error
	header                                     http.Header
}

// testServer records requests and answers with respond.
func testServer(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) (*Client, *[]recorded) {
	t.Helper()
	var mu sync.Mutex
	var reqs []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := recorded{
			method:       r.Method,
			escapedPath:  r.URL.EscapedPath(),
			rawQuery:     r.URL.RawQuery,
			contentType:  r.Header.Get("Content-Type"),
			body:         body,
			hasBody:      r.ContentLength > 0,
			signatureErr: verifySignature(r, body),
			header:       r.Header.Clone(),
		}
		mu.Lock()
		reqs = append(reqs, rec)
		mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(srv.Close)
	c := New(srv.URL, "us-east-1", StaticCredentials("AKIDEXAMPLE", "secret", "session"))
	c.HTTPClient = srv.Client()
	c.Now = func() time.Time { return signingTime }
	return c, &reqs
}

var signedHeaders = regexp.MustCompile(`SignedHeaders=([^,]+)`)

// verifySignature re-signs the request as received with the same
// credentials and time, and compares the Authorization headers.
func verifySignature(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	if !strings.Contains(auth, "Credential=AKIDEXAMPLE/20240506/us-east-1/finspace-api/aws4_request") {
		return errors.New("bad credential scope: " + auth)
	}
	if r.Header.Get("X-Amz-Security-Token") != "session" {
		return errors.New("no session token")
	}
	m := signedHeaders.FindStringSubmatch(auth)
	if m == nil {
		return errors.New("no SignedHeaders")
	}
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for _, h := range strings.Split(m[1], ";") {
		if h != "host" {
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	req.Header.Del("Authorization")
	creds, _ := StaticCredentials("AKIDEXAMPLE", "secret", "session").Retrieve(context.Background())
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]),
		"finspace-api", "us-east-1", signingTime); err != nil {
		return err
	}
	if got := req.Header.Get("Authorization"); got != auth {
		return errors.New("signature mismatch:\n got " + auth + "\nwant " + got)
	}
	return nil
}

func ok(body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	c, reqs := testServer(t, ok(`{}`))

	// URI labels escaped, idempotency token filled, status code bound.
	in := &finspacedata.AssociateUserToPermissionGroupRequest{PermissionGroupId: ptr("pg/1:x y"), UserId: ptr("u1")}
	out, err := c.AssociateUserToPermissionGroup(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode == nil || *out.StatusCode != 200 {
		t.Errorf("StatusCode = %v, want 200", out.StatusCode)
	}
	if in.ClientToken != nil {
		t.Error("the caller's input was modified")
	}
	r := (*reqs)[0]
	if r.method != "POST" || r.escapedPath != "/permission-group/pg%2F1%3Ax%20y/users/u1" {
		t.Errorf("request %s %s", r.method, r.escapedPath)
	}
	if !regexp.MustCompile(`^\{"clientToken":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"\}$`).Match(r.body) {
		t.Errorf("body %s", r.body)
	}
	if r.contentType != "application/json" {
		t.Errorf("Content-Type %q", r.contentType)
	}
	if r.signatureErr != nil {
		t.Error(r.signatureErr)
	}

	// No body members: no body, no Content-Type.
	if _, err := c.GetDataView(ctx, &finspacedata.GetDataViewRequest{DatasetId: ptr("ds1"), DataViewId: ptr("dv:1")}); err != nil {
		t.Fatal(err)
	}
	r = (*reqs)[1]
	if r.method != "GET" || r.escapedPath != "/datasets/ds1/dataviewsv2/dv%3A1" || r.hasBody || r.contentType != "" {
		t.Errorf("GetDataView request %+v", r)
	}
	if r.signatureErr != nil {
		t.Error(r.signatureErr)
	}

	// Query members.
	if _, err := c.ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: ptr(int32(5)), NextToken: ptr("a b/c")}); err != nil {
		t.Fatal(err)
	}
	r = (*reqs)[2]
	if r.escapedPath != "/user" || r.rawQuery != "maxResults=5&nextToken=a%20b%2Fc" || r.hasBody {
		t.Errorf("ListUsers request %s ? %s", r.escapedPath, r.rawQuery)
	}
	if r.signatureErr != nil {
		t.Error(r.signatureErr)
	}

	// Body members, none set: "{}".
	if _, err := c.GetWorkingLocation(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if r = (*reqs)[3]; string(r.body) != "{}" || r.contentType != "application/json" {
		t.Errorf("GetWorkingLocation body %q", r.body)
	}

	// A set token is sent as given; query-bound tokens go in the query.
	if _, err := c.DeleteDataset(ctx, &finspacedata.DeleteDatasetRequest{DatasetId: ptr("d1"), ClientToken: ptr("tok")}); err != nil {
		t.Fatal(err)
	}
	if r = (*reqs)[4]; r.method != "DELETE" || r.rawQuery != "clientToken=tok" || r.hasBody {
		t.Errorf("DeleteDataset request %+v", r)
	}

	// A missing label fails before sending.
	if _, err := c.GetUser(ctx, &finspacedata.GetUserRequest{}); !errors.Is(err, ErrMissingLabel) {
		t.Errorf("missing label: %v", err)
	}
	if len(*reqs) != 5 {
		t.Errorf("%d requests sent, want 5", len(*reqs))
	}
}

func TestResponses(t *testing.T) {
	ctx := context.Background()
	c, _ := testServer(t, ok(`{"userId":"u1","status":"ENABLED","createTime":1700000000123,"type":"APP_USER"}`))
	out, err := c.GetUser(ctx, &finspacedata.GetUserRequest{UserId: ptr("u1")})
	if err != nil {
		t.Fatal(err)
	}
	if *out.UserId != "u1" || *out.Status != finspacedata.UserStatusEnabled || *out.CreateTime != 1700000000123 ||
		*out.Type != finspacedata.UserTypeAppUser {
		t.Errorf("GetUser output %+v", out)
	}

	c, _ = testServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	if _, err := c.DisableUser(ctx, &finspacedata.DisableUserRequest{UserId: ptr("u1")}); err != nil {
		t.Errorf("empty success body: %v", err)
	}
	out2, err := c.DisassociateUserFromPermissionGroup(ctx, &finspacedata.DisassociateUserFromPermissionGroupRequest{
		PermissionGroupId: ptr("p"), UserId: ptr("u")})
	if err != nil || out2.StatusCode == nil || *out2.StatusCode != 204 {
		t.Errorf("Disassociate: %+v, %v", out2, err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		respond func(http.ResponseWriter, *http.Request)
		want    APIError
	}{
		{
			name: "header",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-Amzn-ErrorType", "ValidationException:http://internal.amazon.com/coral/com.amazonaws.finspace/")
				w.Header().Set("X-Amzn-RequestId", "req-1")
				w.WriteHeader(400)
				_, _ = io.WriteString(w, `{"message":"bad input","reason":"x"}`)
			},
			want: APIError{StatusCode: 400, Code: "ValidationException", Message: "bad input", RequestID: "req-1"},
		},
		{
			name: "body __type",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(404)
				_, _ = io.WriteString(w, `{"__type":"com.amazonaws.finspacedata#ResourceNotFoundException","Message":"gone"}`)
			},
			want: APIError{StatusCode: 404, Code: "ResourceNotFoundException", Message: "gone"},
		},
		{
			name: "body code",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(429)
				_, _ = io.WriteString(w, `{"code":"ThrottlingException"}`)
			},
			want: APIError{StatusCode: 429, Code: "ThrottlingException"},
		},
		{
			name: "not JSON",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(502)
				_, _ = io.WriteString(w, `<html>bad gateway</html>`)
			},
			want: APIError{StatusCode: 502},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testServer(t, tt.respond)
			_, err := c.GetUser(context.Background(), &finspacedata.GetUserRequest{UserId: ptr("u1")})
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			if *apiErr != tt.want {
				t.Errorf("APIError %+v, want %+v", *apiErr, tt.want)
			}
			if tt.want.Code != "" && !strings.Contains(err.Error(), tt.want.Code) {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestEscapeLabel(t *testing.T) {
	for in, want := range map[string]string{
		"abc-_.~XYZ09": "abc-_.~XYZ09",
		"arn:aws:finspace:us-east-1:123:kxEnvironment/abc": "arn%3Aaws%3Afinspace%3Aus-east-1%3A123%3AkxEnvironment%2Fabc",
		"a b+c%": "a%20b%2Bc%25",
		"é":      "%C3%A9",
		"":       "",
	} {
		if got := escapeLabel(in); got != want {
			t.Errorf("escapeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
