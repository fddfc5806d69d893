package s3gw

import (
	"bytes"
	"net"
	"testing"
	"unsafe"
)

// The gateway's key cache must not keep the router's strings: fasthttp
// hands out strings over request buffers that later requests overwrite,
// and a cache key that changes under the map made a new credential find an
// older credential's signing key (a spurious SignatureDoesNotMatch for a
// few percent of freshly issued FinSpace user credentials).
func TestKeyCacheOwnsItsKeys(t *testing.T) {
	parent, child := net.Pipe()
	t.Cleanup(func() { parent.Close(); child.Close() })
	asked := map[string]int{}
	go serveRPC(parent, func(req *keyRequest) *keyResponse {
		asked[req.Access]++
		return &keyResponse{Key: deriveKey("secret-of-"+req.Access, req.Date, req.Region, req.Service)}
	})
	iam := newChildIAM(newRPCClient(child, 0), testAccount)

	buf := []byte("ASIAFIRSTFIRSTFIRST1")      // one request buffer, reused
	access := unsafe.String(&buf[0], len(buf)) // as fasthttp returns it
	first, _, err := iam.DeriveSigningKey(access, "token", "20260105", "us-east-1", "s3")
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "ASIASECONDSECONDSEC2") // the next request, same buffer
	second, _, err := iam.DeriveSigningKey(access, "token", "20260105", "us-east-1", "s3")
	if err != nil {
		t.Fatal(err)
	}
	want := deriveKey("secret-of-ASIASECONDSECONDSEC2", "20260105", "us-east-1", "s3")
	if !bytes.Equal(second, want) || bytes.Equal(first, second) {
		t.Errorf("the second access key got the first one's signing key")
	}
	if asked["ASIAFIRSTFIRSTFIRST1"] != 1 || asked["ASIASECONDSECONDSEC2"] != 1 {
		t.Errorf("keys asked of the parent: %v", asked)
	}
	// And the first key is still cached as itself.
	again, _, _ := iam.DeriveSigningKey("ASIAFIRSTFIRSTFIRST1", "token", "20260105", "us-east-1", "s3")
	if !bytes.Equal(again, first) || asked["ASIAFIRSTFIRSTFIRST1"] != 1 {
		t.Errorf("the first key was not served from the cache: %v", asked)
	}
}
