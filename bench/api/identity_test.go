package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// getUserScenarios returns GetUser of the environment's superuser signed
// with root credentials (the server resolves root to the superuser of the
// only environment) and with the superuser's temporary credentials from
// GetProgrammaticAccessCredentials (a credential-store lookup per request).
func (f *fixture) getUserScenarios(tb testing.TB) (root, temporary *scenario) {
	tb.Helper()
	ctx := context.Background()
	rc := f.srv.Root()
	rootData := fd.New(f.srv.URL(), region, fd.StaticCredentials(rc.AccessKeyID, rc.SecretAccessKey, ""))
	out, err := rootData.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &f.envID, DurationInMinutes: aws.Int64(60)})
	if err != nil {
		tb.Fatal(err)
	}
	users, err := rootData.ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: aws.Int32(1)})
	if err != nil || len(users.Users) != 1 {
		tb.Fatalf("ListUsers: %v %v", users, err)
	}
	u := f.srv.URL() + "/user/" + *users.Users[0].UserId
	c := out.Credentials
	mk := func(name string, creds aws.Credentials) *scenario {
		s := v4.NewSigner()
		return &scenario{name: name, hc: f.hc, next: func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return nil, err
			}
			return req, s.SignHTTP(ctx, creds, req, emptyPayloadHash, "finspace-api", region, time.Now())
		}}
	}
	return mk("GetUser root", aws.Credentials{AccessKeyID: rc.AccessKeyID, SecretAccessKey: rc.SecretAccessKey}),
		mk("GetUser temporary", aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken})
}

// BenchmarkGetUser: authenticated GetUser, root vs temporary credentials.
func BenchmarkGetUser(b *testing.B) {
	f := newFixture(b)
	root, temporary := f.getUserScenarios(b)
	b.Run("root", func(b *testing.B) { runParallelScenario(b, root) })
	b.Run("temporary", func(b *testing.B) { runParallelScenario(b, temporary) })
}

// TestReportGetUser prints GetUser throughput and latency with root and
// with temporary credentials, interleaved, 50 clients.
func TestReportGetUser(t *testing.T) {
	if !benchEnabled() {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the GetUser report")
	}
	ctx := context.Background()
	f := newFixture(t)
	root, temporary := f.getUserScenarios(t)
	scenarios := []*scenario{root, temporary}
	for _, sc := range scenarios {
		if err := sc.warm(ctx, clients); err != nil {
			t.Fatal(err)
		}
	}
	d := reportDuration(t)
	runs := make([][]summary, len(scenarios))
	for range reportRounds {
		for i, sc := range scenarios {
			s, err := runFor(ctx, sc, clients, d/reportRounds)
			if err != nil {
				t.Fatal(err)
			}
			runs[i] = append(runs[i], s)
		}
	}
	base := combine(runs[0])
	for i, sc := range scenarios {
		s := combine(runs[i])
		t.Logf("%-18s %8.0f req/s  p50 %5.2f ms  p99 %5.2f ms  %.2fx root", sc.name, s.rps(), ms(s.p50), ms(s.p99), s.rps()/base.rps())
	}
}

// TestGetUserScenarios checks the scenarios answer 200 (runs in the normal
// suite, fast).
func TestGetUserScenarios(t *testing.T) {
	f := newFixture(t)
	root, temporary := f.getUserScenarios(t)
	for _, sc := range []*scenario{root, temporary} {
		if _, err := sc.once(context.Background()); err != nil {
			t.Errorf("%s: %v", sc.name, err)
		}
	}
}

// BenchmarkGetUserHandler measures the server's own CPU per GetUser (the
// handler called in process on a pre-signed request, no network, no
// client): the cost of authentication, the authorization model (with the
// liveness check of a FinSpace user's credentials) and the operation.
func BenchmarkGetUserHandler(b *testing.B) {
	f := newFixture(b)
	root, temporary := f.getUserScenarios(b)
	for _, sc := range []*scenario{root, temporary} {
		b.Run(strings.ReplaceAll(sc.name, " ", "_"), func(b *testing.B) {
			req, err := sc.next(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			serveInProcess(b, f.srv.Handler(), req)
		})
	}
}
