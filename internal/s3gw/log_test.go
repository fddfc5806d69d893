package s3gw

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
)

// The reverse proxy logs through the gateway's logger, not the log
// package's default one.
func TestProxyLogsToTheGatewayLogger(t *testing.T) {
	var buf bytes.Buffer
	creds := auth.Chain{auth.Static{}}
	g, err := New(Config{ObjectsDir: filepath.Join(t.TempDir(), "objects"), AccountID: testAccount, Credentials: creds,
		Verifier: &sigv4.Verifier{Credentials: creds}, Authz: &authz.Authorizer{Live: liveForTests},
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	rt := g.newRoute(filepath.Join(t.TempDir(), "none.sock"))
	if rt.proxy.ErrorLog == nil {
		t.Fatal("the proxy has no ErrorLog: it would use log.Default")
	}
	rt.proxy.ErrorLog.Printf("httputil: ReverseProxy read error during body copy: probe")
	if !strings.Contains(buf.String(), "probe") || !strings.Contains(buf.String(), "level=DEBUG") {
		t.Fatalf("gateway log: %q", buf.String())
	}
}
