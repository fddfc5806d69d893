package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
)

// signature's hand-written HMAC agrees with crypto/hmac, also when the string
// to sign outgrows its stack buffer.
func TestSignatureHMAC(t *testing.T) {
	key := deriveKey("secret", "20240506", "us-east-1", "finspace")
	for _, svc := range []string{"finspace", strings.Repeat("s", 300)} {
		scope := Scope{AccessKeyID: "A", Date: "20240506", Region: "us-east-1", Service: svc, Terminal: Terminal}
		canonical := []byte("GET\n/\n\nhost:h\n\nhost\n" + UnsignedPayload)
		sts := Algorithm + "\n20240506T120000Z\n" + scope.String() + "\n" + hashHex(canonical)
		m := hmac.New(sha256.New, key[:])
		m.Write([]byte(sts))
		want := m.Sum(nil)
		got := signature(&key, "20240506T120000Z", scope, canonical)
		if !hmac.Equal(got[:], want) {
			t.Fatalf("service %d bytes: signature differs from crypto/hmac", len(svc))
		}
	}
}
