package sigv4

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkVerify verifies a header-signed POST with a 200-byte JSON body,
// with the signing key cached after the first iteration.
func BenchmarkVerify(b *testing.B) {
	body := `{"name":"env1","description":"` + strings.Repeat("x", 200-len(`{"name":"env1","description":""}`)) + `"}`
	if len(body) != 200 {
		b.Fatalf("body is %d bytes", len(body))
	}
	s := reqSpec{name: "bench", service: "finspace", method: "POST", target: "/kx/environments", body: body,
		header: map[string]string{"Content-Type": "application/json"}}
	req := sign(b, newRequest(b, "http://finspace.local:8080", s), s, signOpts{creds: tempCreds, at: testNow})
	v := testVerifier()
	ctx := context.Background()
	data := []byte(body)
	if _, err := v.Verify(ctx, req, data); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, req, data); err != nil {
			b.Fatal(err)
		}
	}
}
