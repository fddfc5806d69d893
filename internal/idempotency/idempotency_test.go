package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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

// allowAll is a test double: every caller may call every operation.
type allowAll struct{}

func (allowAll) Authorize(context.Context, auth.Caller, string, string) error { return nil }

type fixture struct {
	client *sdk.Client
	calls  atomic.Int32
	tokens *idempotency.Tokens
	db     store.Store
	clock  *clock
}

// clock is the tokens' clock (test double): real time moved by Advance.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// newFixture serves CreateKxEnvironment with a counting test implementation
// behind the real generic handler and SQLite-backed token memory. Every
// test runs in a testing/synctest bubble, so the waits in these tests (a
// duplicate waiting for the first request, a client giving up) pass on
// fake time, at once and in the same order every run.
func newFixture(t *testing.T, fail func(ctx context.Context, f *fixture, n int32) error) *fixture {
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
	clk := &clock{}
	f := &fixture{tokens: idempotency.New(db, keys, idempotency.Options{Now: clk.Now}), db: db, clock: clk}
	h := &finspace.Handlers{
		CreateKxEnvironment: func(ctx context.Context, in *finspace.CreateKxEnvironmentRequest) (*finspace.CreateKxEnvironmentResponse, error) {
			n := f.calls.Add(1)
			time.Sleep(20 * time.Millisecond) // widen the window for concurrent duplicates
			if fail != nil {
				if err := fail(ctx, f, n); err != nil {
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
		Authz:       allowAll{},
		Idempotency: f.tokens,
	}
	handler.Init()
	f.client = sdk.New(sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://idempotency.test"), RetryMaxAttempts: 1,
		HTTPClient:  &http.Client{Transport: inProcess{handler}},
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	return f
}

// inProcess serves a client's requests with a handler in the test's own
// goroutines (the tests run in a synctest bubble, where a real listener
// would stop fake time); a client that gives up gets its context's error
// while the handler goes on, as over a connection.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.h.ServeHTTP(rec, r)
	}()
	select {
	case <-done:
		return rec.Result(), nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

func create(f *fixture, name, token string) (*sdk.CreateKxEnvironmentOutput, error) {
	return f.client.CreateKxEnvironment(context.Background(), &sdk.CreateKxEnvironmentInput{
		Name: aws.String(name), KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/k"), ClientToken: aws.String(token)})
}

func TestSameTokenSameInputReplays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
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
	})
}

func TestSameTokenOtherInputConflicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
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
	})
}

func TestConcurrentDuplicatesRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
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
	})
}

func TestFailedRequestIsNotRemembered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(_ context.Context, _ *fixture, n int32) error {
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
	})
}

func TestTokenExpiresAfterWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		if _, err := create(f, "env1", "token-1"); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(11 * time.Minute)
		if _, err := create(f, "env2", "token-1"); err != nil {
			t.Fatalf("token reused after the window: %v", err)
		}
		if f.calls.Load() != 2 {
			t.Fatalf("%d calls, want 2", f.calls.Load())
		}
	})
}

func TestStoredResponseIsSealed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
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
	})
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

// takeEffect commits a record and, in the same transaction, marks the
// request's client token carried out, as a real operation does.
func takeEffect(ctx context.Context, f *fixture, n int32) error {
	return f.db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, &store.Record{Kind: "resource", ID: fmt.Sprint(n), Data: []byte(`{}`)}); err != nil {
			return err
		}
		return f.tokens.CommitTx(ctx, tx)
	})
}

// prepare commits a record without marking the token: the first of an
// operation's two transactions.
func prepare(ctx context.Context, f *fixture, n int32) error {
	return f.db.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "resource", ID: fmt.Sprint("prepared-", n), Data: []byte(`{}`)})
	})
}

// abandonAndWait sends a request with token whose operation never answers
// (the client gives up), then moves the tokens' clock past StaleAfter.
func abandonAndWait(t *testing.T, f *fixture, token string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := f.client.CreateKxEnvironment(ctx, &sdk.CreateKxEnvironmentInput{Name: aws.String("env1"),
		KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/k"), ClientToken: aws.String(token)}); err == nil {
		t.Fatal("the first request should not have answered")
	}
	f.clock.Advance(2 * time.Minute) // the claim is stale
}

func resources(t *testing.T, f *fixture) int {
	t.Helper()
	var n int
	if err := f.db.View(context.Background(), func(tx store.Tx) error {
		l, err := tx.List(context.Background(), store.Query{Kind: "resource"})
		for _, r := range l {
			if !strings.HasPrefix(r.ID, "prepared-") {
				n++
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCarriedOutClaimIsNotRunAgain: the operation committed its effects, then
// the server stopped before storing the response (here: the request never
// finishes). A retry after the claim went stale must not run it again.
func TestCarriedOutClaimIsNotRunAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := make(chan struct{})
		defer close(hang) // before the fixture's cleanup closes the test server
		f := newFixture(t, func(ctx context.Context, f *fixture, n int32) error {
			if err := takeEffect(ctx, f, n); err != nil {
				return err
			}
			if n == 1 {
				<-hang // the process "dies" here: no response is ever stored
			}
			return nil
		})
		abandonAndWait(t, f, "token-1")
		_, err := create(f, "env1", "token-1")
		var ce *types.ConflictException
		if !errors.As(err, &ce) || !strings.Contains(ce.ErrorMessage(), "took effect") {
			t.Fatalf("retry of a request that took effect: %v, want ConflictException", err)
		}
		if c, r := f.calls.Load(), resources(t, f); c != 1 || r != 1 {
			t.Fatalf("%d calls and %d resources, want 1 and 1", c, r)
		}
		// Another token runs as usual.
		if _, err := create(f, "env1", "token-2"); err != nil {
			t.Fatal(err)
		}
		if r := resources(t, f); r != 2 {
			t.Fatalf("%d resources after a new token, want 2", r)
		}
	})
}

// TestStaleClaimWithoutEffectRunsAgain: a claim whose request died before
// committing anything is taken over by a retry once stale.
func TestStaleClaimWithoutEffectRunsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := make(chan struct{})
		defer close(hang) // before the fixture's cleanup closes the test server
		f := newFixture(t, func(ctx context.Context, f *fixture, n int32) error {
			if n == 1 {
				<-hang // dies before any effect
			}
			return takeEffect(ctx, f, n)
		})
		abandonAndWait(t, f, "token-1")
		if _, err := create(f, "env1", "token-1"); err != nil {
			t.Fatalf("retry of a request that died without effect: %v", err)
		}
		if r := resources(t, f); r != 1 {
			t.Fatalf("%d resources, want 1", r)
		}
	})
}

// TestFailureAfterEffectRefusesRetry: an operation that committed, then
// failed, must not be run again by a retry with the same token.
func TestFailureAfterEffectRefusesRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(ctx context.Context, f *fixture, n int32) error {
			if err := takeEffect(ctx, f, n); err != nil {
				return err
			}
			if n == 1 {
				return errors.New("failed after committing")
			}
			return nil
		})
		if _, err := create(f, "env1", "token-1"); err == nil {
			t.Fatal("first call should fail")
		}
		_, err := create(f, "env1", "token-1")
		var ce *types.ConflictException
		if !errors.As(err, &ce) {
			t.Fatalf("retry after a failure that took effect: %v, want ConflictException", err)
		}
		if r := resources(t, f); r != 1 {
			t.Fatalf("%d resources, want 1", r)
		}
	})
}

// TestFailureBeforeCommitRunsAgain: an operation of two transactions whose
// second one (the commit, which marks the token) fails leaves the token
// unmarked, so a retry runs it again; had it marked the token in its first
// transaction, the retry would be refused although nothing was created.
func TestFailureBeforeCommitRunsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(ctx context.Context, f *fixture, n int32) error {
			if err := prepare(ctx, f, n); err != nil {
				return err
			}
			if n == 1 {
				return errors.New("failed between the transactions")
			}
			return takeEffect(ctx, f, n)
		})
		if _, err := create(f, "env1", "token-1"); err == nil {
			t.Fatal("first call should fail")
		}
		if _, err := create(f, "env1", "token-1"); err != nil {
			t.Fatalf("retry of a request that failed before its commit: %v", err)
		}
		if c, r := f.calls.Load(), resources(t, f); c != 2 || r != 1 {
			t.Fatalf("%d calls and %d resources, want 2 and 1", c, r)
		}
	})
}

// TestCommitTxWithoutToken: outside a request with a client token (and
// twice in one request) CommitTx does nothing and fails nothing.
func TestCommitTxWithoutToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(ctx context.Context, f *fixture, n int32) error {
			if err := takeEffect(ctx, f, n); err != nil {
				return err
			}
			return takeEffect(ctx, f, n+100) // a second commit of one request
		})
		if err := takeEffect(context.Background(), f, 0); err != nil {
			t.Fatalf("CommitTx without a client token: %v", err)
		}
		a, err := create(f, "env1", "token-1")
		if err != nil {
			t.Fatal(err)
		}
		b, err := create(f, "env1", "token-1")
		if err != nil || aws.ToString(a.EnvironmentId) != aws.ToString(b.EnvironmentId) {
			t.Fatalf("replay after two commits: %v, ids %s/%s", err, aws.ToString(a.EnvironmentId), aws.ToString(b.EnvironmentId))
		}
	})
}
