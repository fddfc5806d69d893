package paging

import (
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/store"
)

func TestTokenRoundTrip(t *testing.T) {
	c := NewCodec([]byte("k1"))
	cur := store.Cursor{SortKey: "20240101T000000.000000000Z", ID: "abc"}
	tok := c.Encode("ListEnvironments|us-east-1", cur)
	got, err := c.Decode("ListEnvironments|us-east-1", tok)
	if err != nil || *got != cur {
		t.Fatalf("Decode = %v, %v; want %v", got, err, cur)
	}
}

func TestTokenRefused(t *testing.T) {
	c := NewCodec([]byte("k1"))
	tok := c.Encode("ListEnvironments|us-east-1", store.Cursor{SortKey: "a", ID: "b"})
	other := NewCodec([]byte("k2")).Encode("ListEnvironments|us-east-1", store.Cursor{SortKey: "a", ID: "b"})
	flipped := []byte(tok)
	flipped[3] ^= 1
	cases := map[string]struct{ scope, token string }{
		"foreign scope":  {"ListEnvironments|eu-west-1", tok},
		"other key":      {"ListEnvironments|us-east-1", other},
		"tampered":       {"ListEnvironments|us-east-1", string(flipped)},
		"truncated":      {"ListEnvironments|us-east-1", tok[:len(tok)-2]},
		"not base64":     {"ListEnvironments|us-east-1", "!!!"},
		"empty payload":  {"ListEnvironments|us-east-1", "AAAA"},
		"plain cursor":   {"ListEnvironments|us-east-1", "abc"},
		"very long junk": {"ListEnvironments|us-east-1", strings.Repeat("A", 900)},
	}
	for name, tc := range cases {
		if _, err := c.Decode(tc.scope, tc.token); fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: err = %v, want an Invalid fault", name, err)
		}
	}
}

func TestLimit(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	cases := []struct {
		max      *int64
		modelMax int64
		want     int
	}{{nil, 100, 100}, {n(0), 100, 100}, {n(1), 100, 1}, {n(500), 100, 100}, {nil, -1, 25}, {n(7), -1, 7}}
	for _, tc := range cases {
		if got := Limit(tc.max, tc.modelMax, 25); got != tc.want {
			t.Errorf("Limit(%v, %d) = %d, want %d", tc.max, tc.modelMax, got, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	c := NewCodec([]byte("fuzz-key"))
	f.Add("scope", c.Encode("scope", store.Cursor{SortKey: "a", ID: "b"}))
	f.Add("scope", "")
	f.Add("", "eyJzIjoiIn0")
	f.Fuzz(func(t *testing.T, scope, token string) {
		cur, err := c.Decode(scope, token)
		if err == nil {
			// Only tokens this codec made for this scope may decode.
			if again := c.Encode(scope, *cur); again == "" {
				t.Fatal("re-encode failed")
			}
		} else if fault.KindOf(err) != fault.Invalid {
			t.Fatalf("error kind %v, want Invalid", fault.KindOf(err))
		}
	})
}
