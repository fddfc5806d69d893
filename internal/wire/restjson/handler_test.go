package restjson

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
)

type acceptAll struct{}

func (acceptAll) Authenticate(context.Context, *http.Request, []byte) (auth.Caller, error) {
	return auth.Caller{Region: "us-east-1"}, nil
}

type allowAll struct{}

func (allowAll) Authorize(context.Context, auth.Caller, string, string) error { return nil }

type emptyInput struct{}

func (*emptyInput) BindParams(Params) error { return nil }
func (*emptyInput) Validate() error         { return nil }

func testHandler() *Handler {
	ops := testOps()
	for _, op := range ops {
		op.NewInput = func() Input { return &emptyInput{} }
	}
	h := &Handler{
		Services: map[string]*Service{"finspace": {SigningName: "finspace", Operations: ops,
			Lookup: func(string) HandlerFunc { return nil }}},
		Scope: func(*http.Request) (string, bool) { return "finspace", true },
		Auth:  acceptAll{},
		Authz: allowAll{},
	}
	h.Init()
	return h
}

// TestHandlerPaths: trailing slashes and empty segments are never routed
// to another operation; an empty label is a ValidationException naming it.
func TestHandlerPaths(t *testing.T) {
	h := testHandler()
	cases := []struct {
		method, target string
		status         int
		code, mention  string
	}{
		{"GET", "/user/", 400, "ValidationException", "'userId'"},
		{"POST", "/user//disable", 400, "ValidationException", "'userId'"},
		{"GET", "/credentials/", 400, "ValidationException", "'id'"},
		{"POST", "/user/u1/disable/", 404, "UnknownOperationException", "/user/u1/disable/"},
		{"GET", "//user", 404, "UnknownOperationException", "//user"},
		{"GET", "/credentials/programmatic/", 404, "UnknownOperationException", ""},
		{"DELETE", "/user/", 404, "UnknownOperationException", ""},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.target, nil))
		var body struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != tc.status || body.Type != tc.code || w.Header().Get("X-Amzn-ErrorType") != tc.code || !strings.Contains(body.Message, tc.mention) {
			t.Errorf("%s %s: %d %s %q, want %d %s mentioning %q", tc.method, tc.target, w.Code, body.Type, body.Message, tc.status, tc.code, tc.mention)
		}
	}
}

// TestHandlerBodyTimeout: a client that sends its headers and trickles
// (here: stops) its body gets a 408 and its connection back after
// BodyTimeout, not never.
func TestHandlerBodyTimeout(t *testing.T) {
	h := testHandler()
	h.BodyTimeout = 300 * time.Millisecond
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := c.Write([]byte("POST /user HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 408 || resp.Header.Get("X-Amzn-ErrorType") != "RequestTimeoutException" || !resp.Close {
		t.Errorf("trickled body: %d %s close=%v, want 408 RequestTimeoutException, Connection: close", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), resp.Close)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %v", d)
	}

	// A body that arrives in time is read, and the deadline does not
	// outlive it: the connection serves a second request after a pause
	// longer than BodyTimeout.
	c2, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	br := bufio.NewReader(c2)
	for i := range 2 {
		if _, err := c2.Write([]byte("POST /user/u1/disable HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 501 {
			t.Errorf("request %d: status %d, want 501 (valid, not implemented)", i, resp.StatusCode)
		}
		time.Sleep(2 * h.BodyTimeout)
	}
}
