package sigv4

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
)

// botocoreRequest is one request signed by testdata/botocore_sign.py.
type botocoreRequest struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// requireBotocore skips the test when python3 or botocore is missing.
func requireBotocore(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("skipping botocore cross-client check: python3 is not installed")
	}
	if out, err := exec.Command("python3", "-c", "import botocore").CombinedOutput(); err != nil {
		t.Skipf("skipping botocore cross-client check: python3 cannot import botocore (pip install botocore): %v %s",
			err, bytes.TrimSpace(out))
	}
}

// botocoreSign runs the signing script against base with the given
// credentials.
func botocoreSign(t *testing.T, base string, creds []map[string]string) []botocoreRequest {
	t.Helper()
	in, err := json.Marshal(map[string]any{"base": base, "creds": creds})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "testdata/botocore_sign.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore_sign.py: %v\n%s", err, stderr.String())
	}
	var reqs []botocoreRequest
	if err := json.Unmarshal(out, &reqs); err != nil {
		t.Fatalf("decoding botocore_sign.py output: %v", err)
	}
	if len(reqs) == 0 {
		t.Fatal("botocore_sign.py signed no requests")
	}
	return reqs
}

// replay sends a botocore-signed request to the server unchanged, or with
// its body altered.
func replay(t *testing.T, br botocoreRequest, body string) outcome {
	t.Helper()
	req, err := http.NewRequest(br.Method, br.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range br.Headers {
		switch strings.ToLower(k) {
		case "content-length":
		case "host":
			req.Host = v
		default:
			req.Header[k] = []string{v}
		}
	}
	return send(t, req)
}

// Requests signed by botocore (real clients of finspace, finspace-data, sts
// and s3, plus SigV4Auth, S3SigV4Auth and SigV4QueryAuth directly) verify.
func TestBotocoreCrossClient(t *testing.T) {
	requireBotocore(t)
	const wrongAKID = "AKIAWRONGSECRET00000"
	store := auth.Static{
		longAKID: {AccessKeyID: longAKID, SecretAccessKey: longSecret},
		tempAKID: {AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: tempToken,
			Expires: time.Now().Add(time.Hour)},
		wrongAKID: {AccessKeyID: wrongAKID, SecretAccessKey: longSecret},
	}
	srv := newServer(t, &Verifier{Credentials: store}) // real clock: botocore signs with it
	reqs := botocoreSign(t, srv.URL, []map[string]string{
		{"akid": longAKID, "secret": longSecret},
		{"akid": tempAKID, "secret": tempSecret, "token": tempToken},
		{"akid": wrongAKID, "secret": tempSecret},
	})
	seen := map[string]bool{}
	for _, br := range reqs {
		if seen[br.Name] { // botocore may send (and so capture) a request twice
			continue
		}
		seen[br.Name] = true
		t.Run(br.Name, func(t *testing.T) {
			o := replay(t, br, br.Body)
			if strings.HasSuffix(br.Name, wrongAKID) {
				if o.OK || o.Code != CodeInvalidSignature {
					t.Fatalf("signed with a wrong secret: %+v", o)
				}
				return
			}
			if !o.OK {
				t.Fatalf("%+v\n%s %s\n%v", o, br.Method, br.URL, br.Headers)
			}
			if o.Service == "" || o.Region != "us-east-1" || !strings.HasSuffix(br.Name, o.AccessKeyID) {
				t.Fatalf("outcome %+v", o)
			}
			if br.Body != "" {
				altered := strings.ToUpper(br.Body[:1]) + br.Body[1:]
				if altered == br.Body {
					altered = "X" + br.Body[1:]
				}
				if o := replay(t, br, altered); o.OK {
					t.Fatalf("altered body accepted: %+v", o)
				}
			}
		})
	}
	for _, want := range []string{"client finspace untag_resource", "SigV4Auth finspace DELETE", "presigned s3", "SigV4QueryAuth sts"} {
		found := false
		for name := range seen {
			found = found || strings.HasPrefix(name, want)
		}
		if !found {
			t.Errorf("no %q request signed", want)
		}
	}
}
