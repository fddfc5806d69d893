package sigv4

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/openfinspace/openfinspace/internal/auth"
)

// newAPIServer answers like the real endpoints would after authentication:
// an empty JSON object (an STS XML document for sts) on success, else the
// error as the JSON protocols carry it. PeekScope picks the protocol.
func newAPIServer(t *testing.T, v *Verifier) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		service, _, _ := PeekScope(r)
		_, err := v.Verify(r.Context(), r, body)
		var e *Error
		switch {
		case err == nil && service == "sts":
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
				`<Arn>arn:aws:iam::000000000000:root</Arn><UserId>u</UserId><Account>000000000000</Account>`+
				`</GetCallerIdentityResult></GetCallerIdentityResponse>`)
		case err == nil:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{}")
		case errors.As(err, &e) && service == "sts":
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(e.Status)
			io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>`+e.Code+`</Code><Message>`+e.Message+`</Message></Error></ErrorResponse>`)
		case errors.As(err, &e):
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-ErrorType", e.Code)
			w.WriteHeader(e.Status)
			json.NewEncoder(w).Encode(map[string]string{"message": e.Message})
		default:
			http.Error(w, err.Error(), 500)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The real aws-sdk-go-v2 finspace and sts clients, unmodified but for the
// endpoint, authenticate; a wrong secret surfaces as the AWS error code.
func TestGoSDKClients(t *testing.T) {
	store := auth.Static{
		longAKID: {AccessKeyID: longAKID, SecretAccessKey: longSecret},
		tempAKID: {AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: tempToken,
			Expires: time.Now().Add(time.Hour)},
	}
	srv := newAPIServer(t, &Verifier{Credentials: store}) // real clock: the SDK signs with it
	ctx := context.Background()
	arn := "arn:aws:finspace:us-east-1:000000000000:kxEnvironment/abc/kxCluster/c1"

	for _, c := range []struct {
		name             string
		akid, secret, tk string
		wantCode         string
	}{
		{"long-term key", longAKID, longSecret, "", ""},
		{"session credentials", tempAKID, tempSecret, tempToken, ""},
		{"wrong secret", longAKID, tempSecret, "", CodeInvalidSignature},
		{"wrong token", tempAKID, tempSecret, "nope", CodeUnrecognizedClient},
		{"unknown key", "AKIAUNKNOWN000000000", longSecret, "", CodeUnrecognizedClient},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := aws.Config{
				Region:           "us-east-1",
				Credentials:      credentials.NewStaticCredentialsProvider(c.akid, c.secret, c.tk),
				RetryMaxAttempts: 1,
				BaseEndpoint:     aws.String(srv.URL),
			}
			fs := finspace.NewFromConfig(cfg)
			st := sts.NewFromConfig(cfg)
			calls := map[string]func() error{
				"UntagResource": func() error {
					_, err := fs.UntagResource(ctx, &finspace.UntagResourceInput{ResourceArn: &arn, TagKeys: []string{"b", "a", "a b"}})
					return err
				},
				"ListTagsForResource": func() error {
					_, err := fs.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &arn})
					return err
				},
				"TagResource": func() error {
					_, err := fs.TagResource(ctx, &finspace.TagResourceInput{ResourceArn: &arn, Tags: map[string]string{"k": "v", "café": "€"}})
					return err
				},
				"ListKxEnvironments": func() error {
					_, err := fs.ListKxEnvironments(ctx, &finspace.ListKxEnvironmentsInput{MaxResults: aws.Int32(10), NextToken: aws.String("abc/def==")})
					return err
				},
				"CreateKxEnvironment": func() error {
					_, err := fs.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String("env1"),
						KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/1"), ClientToken: aws.String("tok-1")})
					return err
				},
				"GetCallerIdentity": func() error {
					_, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
					return err
				},
				"PresignGetCallerIdentity": func() error {
					p, err := sts.NewPresignClient(st).PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
					if err != nil {
						return err
					}
					req, err := http.NewRequest(p.Method, p.URL, nil)
					if err != nil {
						return err
					}
					for k, vs := range p.SignedHeader {
						if k != "Host" {
							req.Header[k] = vs
						}
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						return err
					}
					defer resp.Body.Close()
					if resp.StatusCode != 200 {
						b, _ := io.ReadAll(resp.Body)
						return &smithy.GenericAPIError{Code: codeFromXML(string(b))}
					}
					return nil
				},
			}
			for name, call := range calls {
				err := call()
				if c.wantCode == "" {
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
					continue
				}
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != c.wantCode {
					t.Errorf("%s: got %v, want %s", name, err, c.wantCode)
				}
			}
		})
	}
}

func codeFromXML(s string) string {
	_, after, ok := strings.Cut(s, "<Code>")
	if !ok {
		return s
	}
	code, _, _ := strings.Cut(after, "</Code>")
	return code
}
