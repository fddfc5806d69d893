package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
)

// The read pool is the store's own (read.go): these tests cover what
// database/sql used to provide: bounded connections, waiting with a
// context, release on panic, and Close with reads in flight.

func TestReadPoolBoundedAndShared(t *testing.T) {
	s := openTemp(t, WithReadConns(2))
	ctx := t.Context()
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "1", Data: []byte(`{"a":1}`)})
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			errs <- s.View(ctx, func(tx store.Tx) error {
				rec, err := tx.Get(ctx, "k", "1")
				if err == nil && string(rec.Data) != `{"a":1}` {
					err = errors.New("wrong data " + string(rec.Data))
				}
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.r.idle); n > 2 {
		t.Fatalf("%d idle read connections, the pool holds at most 2", n)
	}
}

func TestReadPoolWaitHonoursContext(t *testing.T) {
	s := openTemp(t, WithReadConns(1))
	hold := make(chan struct{})
	held := make(chan struct{})
	go s.View(t.Context(), func(store.Tx) error { close(held); <-hold; return nil })
	<-held
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := s.View(ctx, func(store.Tx) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("View on a full pool with an expiring context: %v, want DeadlineExceeded", err)
	}
	close(hold)
	if err := s.View(t.Context(), func(store.Tx) error { return nil }); err != nil {
		t.Fatalf("View after the connection came back: %v", err)
	}
}

func TestReadPoolReleasedOnPanic(t *testing.T) {
	s := openTemp(t, WithReadConns(1))
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic in fn was not re-raised")
			}
		}()
		_ = s.View(t.Context(), func(store.Tx) error { panic("boom") })
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(ctx, "k", "missing")
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("View after a panicking View: %v", err)
	}
}

func TestReadTxUnusableAfterView(t *testing.T) {
	s := openTemp(t)
	var kept store.Tx
	if err := s.View(t.Context(), func(tx store.Tx) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Get(t.Context(), "k", "1"); !errors.Is(err, errTxDone) {
		t.Fatalf("Get on a finished read transaction: %v, want errTxDone", err)
	}
	if _, err := kept.List(t.Context(), store.Query{Kind: "k"}); !errors.Is(err, errTxDone) {
		t.Fatalf("List on a finished read transaction: %v, want errTxDone", err)
	}
}

func TestCloseWaitsForReadsInFlight(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir()+"/metadata.db", WithReadConns(2))
	if err != nil {
		t.Fatal(err)
	}
	inView := make(chan struct{})
	release := make(chan struct{})
	viewDone := make(chan error, 1)
	go func() {
		viewDone <- s.View(context.Background(), func(tx store.Tx) error {
			close(inView)
			<-release
			_, err := tx.List(context.Background(), store.Query{Kind: "k"})
			return err
		})
	}()
	<-inView
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a View was still running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-viewDone; err != nil {
		t.Fatalf("the View in flight during Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.View(context.Background(), func(store.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("View after Close: %v, want ErrClosed", err)
	}
}

// Snapshot reuse (read.go): a connection keeps its read transaction between
// Views while nothing commits. These tests pin what must still hold.

func TestReusedSnapshotSeesLaterCommits(t *testing.T) {
	s := openTemp(t, WithReadConns(1))
	ctx := t.Context()
	rec := &store.Record{Kind: "k", ID: "1", Data: []byte(`{"v":0}`)}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, rec) }); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		var got string
		if err := s.View(ctx, func(tx store.Tx) error {
			r, err := tx.Get(ctx, "k", "1")
			if errors.Is(err, store.ErrNotFound) {
				got = "absent"
				return nil
			}
			if err != nil {
				return err
			}
			got = string(r.Data)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := read(); got != `{"v":0}` {
		t.Fatalf("first read %s", got)
	}
	// The same (only) connection serves the next View; it must not reuse
	// the snapshot or the remembered record after a commit.
	for i := 1; i <= 3; i++ {
		rec.Data = fmt.Appendf(nil, `{"v":%d}`, i)
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Update(ctx, rec) }); err != nil {
			t.Fatal(err)
		}
		if got, want := read(), string(rec.Data); got != want {
			t.Fatalf("after commit %d: read %s, want %s", i, got, want)
		}
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, "k", "1") }); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "absent" {
		t.Fatalf("after delete: read %s", got)
	}
}

func TestRememberedRecordsAreCopies(t *testing.T) {
	s := openTemp(t, WithReadConns(1))
	ctx := t.Context()
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "1", Data: []byte(`{"v":0}`)})
	}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.View(ctx, func(tx store.Tx) error {
			r, err := tx.Get(ctx, "k", "1")
			if err != nil {
				return err
			}
			if string(r.Data) != `{"v":0}` || r.Version != 1 {
				return fmt.Errorf("read %+v", r)
			}
			r.Data[2] = 'X' // the caller owns what Get returns
			r.Version = 99
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIdleSnapshotsEndAfterCommit(t *testing.T) {
	s := openTemp(t, WithReadConns(2))
	ctx := t.Context()
	insert := func(id string) {
		t.Helper()
		if err := s.Update(ctx, func(tx store.Tx) error {
			return tx.Insert(ctx, &store.Record{Kind: "k", ID: id, Data: make([]byte, 2000)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	insert("0")
	// Two Views at once, so that both connections hold a snapshot.
	in := make(chan struct{}, 2)
	out := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			_ = s.View(ctx, func(tx store.Tx) error {
				_, err := tx.Get(ctx, "k", "0")
				in <- struct{}{}
				<-out
				return err
			})
		})
	}
	<-in
	<-in
	close(out)
	wg.Wait()
	for i := 1; i <= 50; i++ {
		insert(fmt.Sprint(i))
	}
	// No reader may hold an old snapshot now: a TRUNCATE checkpoint must
	// copy every frame back and empty the WAL.
	var busy, logFrames, checkpointed int
	if err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil {
		t.Fatal(err)
	}
	if busy != 0 || logFrames != 0 {
		t.Fatalf("checkpoint busy=%d, log=%d frames, checkpointed=%d: an idle reader holds an old snapshot", busy, logFrames, checkpointed)
	}
}

// TestReadersSeeConsistentSnapshots moves value between two records in
// many Updates while readers check in Views that the total never changes
// and never goes back in time.
func TestReadersSeeConsistentSnapshots(t *testing.T) {
	s := openTemp(t, WithReadConns(3), WithSynchronous(SynchronousNormal))
	ctx := t.Context()
	const total = 1000
	type doc struct{ N, Seq int }
	put := func(tx store.Tx, id string, d doc, version int64) error {
		data, _ := json.Marshal(d)
		rec := &store.Record{Kind: "acct", ID: id, Data: data, Version: version}
		if version == 0 {
			return tx.Insert(ctx, rec)
		}
		return tx.Update(ctx, rec)
	}
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := put(tx, "a", doc{total, 0}, 0); err != nil {
			return err
		}
		return put(tx, "b", doc{0, 0}, 0)
	}); err != nil {
		t.Fatal(err)
	}
	readBoth := func(tx store.Tx) (a, b doc, err error) {
		for id, d := range map[string]*doc{"a": &a, "b": &b} {
			r, err := tx.Get(ctx, "acct", id)
			if err != nil {
				return a, b, err
			}
			if err := json.Unmarshal(r.Data, d); err != nil {
				return a, b, err
			}
		}
		return a, b, nil
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			last := -1
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := s.View(ctx, func(tx store.Tx) error {
					a, b, err := readBoth(tx)
					if err != nil {
						return err
					}
					if a.N+b.N != total || a.Seq != b.Seq {
						return fmt.Errorf("inconsistent snapshot: a=%+v b=%+v", a, b)
					}
					if a.Seq < last {
						return fmt.Errorf("went back in time: seq %d after %d", a.Seq, last)
					}
					last = a.Seq
					// Read again in the same View: the same snapshot.
					a2, b2, err := readBoth(tx)
					if err != nil {
						return err
					}
					if a2 != a || b2 != b {
						return fmt.Errorf("snapshot changed inside a View: %+v %+v then %+v %+v", a, b, a2, b2)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := 1; i <= 300; i++ {
		err := s.Update(ctx, func(tx store.Tx) error {
			ra, err := tx.Get(ctx, "acct", "a")
			if err != nil {
				return err
			}
			rb, err := tx.Get(ctx, "acct", "b")
			if err != nil {
				return err
			}
			var a, b doc
			json.Unmarshal(ra.Data, &a)
			json.Unmarshal(rb.Data, &b)
			a.N, b.N, a.Seq, b.Seq = a.N-1, b.N+1, i, i
			if err := put(tx, "a", a, ra.Version); err != nil {
				return err
			}
			return put(tx, "b", b, rb.Version)
		})
		if err != nil {
			t.Fatal(err)
		}
		// A View that starts after Update returned sees it.
		if err := s.View(ctx, func(tx store.Tx) error {
			a, _, err := readBoth(tx)
			if err == nil && a.Seq != i {
				err = fmt.Errorf("View after Update %d saw seq %d", i, a.Seq)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
