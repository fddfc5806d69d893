package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	wglue "github.com/openfinspace/openfinspace/internal/wire/glue"
)

// glueCall sends one awsJson request for target, signed with creds unless
// creds is nil, and returns the status, the __type and the message.
func glueCall(t *testing.T, srv *server.Server, creds *aws.Credentials, target, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL()+"/", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	if creds != nil {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), *creds, req, hex.EncodeToString(sum[:]), "glue", servertest.Region, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(raw, &out)
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("%s: no x-amzn-RequestId", target)
	}
	return resp.StatusCode, out.Type, out.Message
}

// TestGlueAuthorizationWalk sends every operation of the Glue model signed
// by every kind of principal, and unsigned, and checks the answer against
// the policy: where it grants nothing, AccessDeniedException naming the
// action, before the body is looked at; where it grants access, the
// operation runs (the six reads answer their own validation, every other
// operation OperationNotSupportedException).
func TestGlueAuthorizationWalk(t *testing.T) {
	dir := t.TempDir()
	srv, _ := servertest.StartClocked(t, func(c *server.Config) { c.DataDir = dir })
	creds, _ := everyPrincipal(t, srv, dir)
	if len(wglue.Operations) < 250 {
		t.Fatalf("the Glue table has %d operations", len(wglue.Operations))
	}
	for _, op := range wglue.Operations {
		if st, code, _ := glueCall(t, srv, nil, op.Target, "{}"); st != 403 || code != "MissingAuthenticationTokenException" {
			t.Errorf("unsigned %s: %d %s", op.Name, st, code)
		}
	}
	for _, kind := range authz.PrincipalKinds {
		c := creds[kind]
		for _, op := range wglue.Operations {
			st, code, msg := glueCall(t, srv, &c, op.Target, "{}")
			switch authz.Lookup(kind, authz.Glue, op.Name) {
			case authz.None:
				if code != "AccessDeniedException" || !strings.Contains(msg, "is not authorized to perform: glue:"+op.Name) {
					t.Errorf("%s → glue:%s: %d %s %q, want AccessDeniedException", authz.KindName(kind), op.Name, st, code, msg)
				}
			default:
				want := "OperationNotSupportedException"
				if op.NewInput != nil {
					want = "InvalidInputException" // {} lacks their required members...
					if op.Name == "GetDatabases" {
						want = "" // ...except GetDatabases, which has none
					}
				}
				if code != want || (want != "" && st != 400) || (want == "" && st != 200) {
					t.Errorf("%s → glue:%s: %d %s %q, want %q", authz.KindName(kind), op.Name, st, code, msg, want)
				}
			}
		}
	}
	// Unknown targets are not operations, whoever asks.
	root := creds[auth.Root]
	if st, code, _ := glueCall(t, srv, &root, "AWSGlue.DropEverything", "{}"); st != 400 || code != "UnknownOperationException" {
		t.Errorf("unknown target: %d %s", st, code)
	}
	// A signature by a wrong secret is refused before the target is read.
	bad := root
	bad.SecretAccessKey = "wrong"
	if st, code, _ := glueCall(t, srv, &bad, "AWSGlue.GetDatabases", "{}"); st != 403 || code != "InvalidSignatureException" {
		t.Errorf("bad signature: %d %s", st, code)
	}
}
