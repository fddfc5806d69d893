package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/openfinspace/openfinspace/internal/store"
)

type doc struct {
	Status string `json:"status"`
}

func countingCache(max int) (*store.Decoded[*doc], *int) {
	var mu sync.Mutex
	n := new(int)
	return &store.Decoded[*doc]{Max: max, Decode: func(b []byte) (*doc, error) {
		mu.Lock()
		*n++
		mu.Unlock()
		var d doc
		err := json.Unmarshal(b, &d)
		return &d, err
	}}, n
}

func TestDecodedUsesOnlyIdenticalBytes(t *testing.T) {
	c, decodes := countingCache(0)
	rec := &store.Record{Kind: "environment", ID: "e1", Version: 1, Data: []byte(`{"status":"CREATING"}`)}
	for range 3 {
		d, err := c.Get(rec)
		if err != nil || d.Status != "CREATING" {
			t.Fatalf("Get = %+v, %v", d, err)
		}
	}
	if *decodes != 1 {
		t.Errorf("3 reads of the same bytes decoded %d times, want 1", *decodes)
	}
	// The caller reuses its buffer: the cache kept its own copy.
	copy(rec.Data, `{"status":"DELETING"}`)
	if d, _ := c.Get(rec); d.Status != "DELETING" {
		t.Errorf("after the record's bytes changed in place: %q", d.Status)
	}
	// Same version, other bytes (a record deleted and created again):
	// decoded anew, whatever the version says.
	again := &store.Record{Kind: "environment", ID: "e1", Version: 1, Data: []byte(`{"status":"CREATED"}`)}
	if d, _ := c.Get(again); d.Status != "CREATED" {
		t.Errorf("re-created record: %q", d.Status)
	}
	// Same id, other kind: another entry.
	other := &store.Record{Kind: "tags", ID: "e1", Data: []byte(`{"status":"X"}`)}
	if d, _ := c.Get(other); d.Status != "X" {
		t.Errorf("other kind: %q", d.Status)
	}
	if d, _ := c.Get(again); d.Status != "CREATED" || *decodes != 4 {
		t.Errorf("after another kind: %q, %d decodes (want 4)", d.Status, *decodes)
	}
}

func TestDecodedErrorsAreNotCached(t *testing.T) {
	c, decodes := countingCache(0)
	bad := &store.Record{Kind: "k", ID: "x", Data: []byte(`{"status":`)}
	for range 2 {
		if _, err := c.Get(bad); err == nil {
			t.Fatal("no error for a truncated document")
		}
	}
	var se *json.SyntaxError
	if _, err := c.Get(bad); !errors.As(err, &se) {
		t.Errorf("error %v is not the decoder's", err)
	}
	if *decodes != 3 || c.Len() != 0 {
		t.Errorf("%d decodes, %d entries; want 3, 0", *decodes, c.Len())
	}
}

func TestDecodedIsBounded(t *testing.T) {
	c, _ := countingCache(64)
	for i := range 1000 {
		rec := &store.Record{Kind: "k", ID: fmt.Sprint(i), Data: fmt.Appendf(nil, `{"status":"s%d"}`, i)}
		d, err := c.Get(rec)
		if err != nil || d.Status != fmt.Sprintf("s%d", i) {
			t.Fatalf("Get(%d) = %+v, %v", i, d, err)
		}
		if c.Len() > 64 {
			t.Fatalf("%d entries, bound 64", c.Len())
		}
	}
}

func TestDecodedConcurrent(t *testing.T) {
	c, _ := countingCache(16)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				id := fmt.Sprint((w + i) % 40)
				want := fmt.Sprintf("v%d", i%3)
				rec := &store.Record{Kind: "k", ID: id, Data: fmt.Appendf(nil, `{"status":%q}`, want)}
				d, err := c.Get(rec)
				if err != nil || d.Status != want {
					t.Errorf("Get(%s) = %+v, %v; want %s", id, d, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
