package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/idempotency"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/keyring"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

// fakeAuth is a test double: every request is the root caller in us-east-1.
type fakeAuth struct{}

func (fakeAuth) Authenticate(context.Context, *http.Request, []byte) (auth.Caller, error) {
	return auth.Caller{Principal: auth.Principal{Kind: auth.Root, ARN: "arn:aws:iam::000000000000:root"}, Region: "us-east-1"}, nil
}

type fixture struct {
	client *sdk.Client
	calls  atomic.Int32
	tokens *idempotency.Tokens
	db     store.Store
}

// newFixture serves CreateKxEnvironment with a counting test implementation
// behind the real generic handler and SQLite-backed token memory.
func newFixture(t *testing.T, fail func(n int32) error) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := keyring.LoadOrCreate(filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{tokens: idempotency.New(db, keys), db: db}
	h := &finspace.Handlers{
		CreateKxEnvironment: func(ctx context.Context, in *finspace.CreateKxEnvironmentRequest) (*finspace.CreateKxEnvironmentResponse, error) {
			n := f.calls.Add(1)
			time.Sleep(20 * time.Millisecond) // widen the window for concurrent duplicates
			if fail != nil {
				if err := fail(n); err != nil {
					return nil, err
				}
			}
			id := ids.EnvironmentID()
			return &finspace.CreateKxEnvironmentResponse{EnvironmentId: &id, Name: in.Name}, nil
		},
	}
	handler := &restjson.Handler{
		Services:    map[string]*restjson.Service{finspace.SigningName: {SigningName: finspace.SigningName, Operations: finspace.Operations, Lookup: h.Lookup}},
		Scope:       func(*http.Request) (string, bool) { return finspace.SigningName, true },
		Auth:        fakeAuth{},
		Idempotency: f.tokens,
	}
	handler.Init()
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	f.client = sdk.New(sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	return f
}

func create(f *fixture, name, token string) (*sdk.CreateKxEnvironmentOutput, error) {
	return f.client.CreateKxEnvironment(context.Background(), &sdk.CreateKxEnvironmentInput{
		Name: aws.String(name), KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/k"), ClientToken: aws.String(token)})
}

func TestSameTokenSameInputReplays(t *testing.T) {
	f := newFixture(t, nil)
	a, err := create(f, "env1", "token-1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := create(f, "env1", "token-1")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(a.EnvironmentId) != aws.ToString(b.EnvironmentId) || f.calls.Load() != 1 {
		t.Fatalf("replay: ids %s/%s, %d calls; want the same id and 1 call", aws.ToString(a.EnvironmentId), aws.ToString(b.EnvironmentId), f.calls.Load())
	}
	c, err := create(f, "env1", "token-2")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(c.EnvironmentId) == aws.ToString(a.EnvironmentId) || f.calls.Load() != 2 {
		t.Fatal("a new token did not run the operation again")
	}
}

func TestSameTokenOtherInputConflicts(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := create(f, "env1", "token-1"); err != nil {
		t.Fatal(err)
	}
	_, err := create(f, "env2", "token-1")
	var ce *types.ConflictException
	if !errors.As(err, &ce) {
		t.Fatalf("reused token with other input: %v, want ConflictException", err)
	}
	if f.calls.Load() != 1 {
		t.Fatalf("%d calls, want 1", f.calls.Load())
	}
}

func TestConcurrentDuplicatesRunOnce(t *testing.T) {
	f := newFixture(t, nil)
	var wg sync.WaitGroup
	results := make([]string, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := create(f, "env1", "same-token")
			errs[i] = err
			if err == nil {
				results[i] = aws.ToString(out.EnvironmentId)
			}
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if results[i] != results[0] {
			t.Fatalf("concurrent duplicates got different ids: %v", results)
		}
	}
	if f.calls.Load() != 1 {
		t.Fatalf("%d calls for 8 concurrent duplicates, want 1", f.calls.Load())
	}
}

func TestFailedRequestIsNotRemembered(t *testing.T) {
	f := newFixture(t, func(n int32) error {
		if n == 1 {
			return errors.New("disk on fire")
		}
		return nil
	})
	if _, err := create(f, "env1", "token-1"); err == nil {
		t.Fatal("first call should fail")
	}
	if _, err := create(f, "env1", "token-1"); err != nil {
		t.Fatalf("retry after a failure: %v", err)
	}
	if f.calls.Load() != 2 {
		t.Fatalf("%d calls, want 2", f.calls.Load())
	}
}

func TestTokenExpiresAfterWindow(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now()
	f.tokens.Now = func() time.Time { return now }
	if _, err := create(f, "env1", "token-1"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(11 * time.Minute)
	if _, err := create(f, "env2", "token-1"); err != nil {
		t.Fatalf("token reused after the window: %v", err)
	}
	if f.calls.Load() != 2 {
		t.Fatalf("%d calls, want 2", f.calls.Load())
	}
}

func TestStoredResponseIsSealed(t *testing.T) {
	f := newFixture(t, nil)
	out, err := create(f, "sealed-env", "token-1")
	if err != nil {
		t.Fatal(err)
	}
	var recs []*store.Record
	err = f.db.View(context.Background(), func(tx store.Tx) error {
		var err error
		recs, err = tx.List(context.Background(), store.Query{Kind: idempotency.Kind, AnyParent: true})
		return err
	})
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %d, %v", len(recs), err)
	}
	for _, s := range []string{aws.ToString(out.EnvironmentId), "sealed-env", "token-1"} {
		if contains(recs[0].Data, s) || contains([]byte(recs[0].ID), s) {
			t.Errorf("idempotency record holds %q in clear", s)
		}
	}
}

func contains(b []byte, s string) bool {
	return len(s) > 0 && len(b) >= len(s) && (string(b) == s || indexOf(string(b), s) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
