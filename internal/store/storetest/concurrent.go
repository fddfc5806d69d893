package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
)

// Concurrent writers: on one Store (Run) and on several Stores sharing one
// database (RunShared). The races go through a picker so that the same
// checks run in both settings.

// picker returns the store worker i uses.
type picker func(i int) store.Store

func one(s store.Store) picker { return func(int) store.Store { return s } }

// RunShared checks several Stores open at the same time on one database, as
// several server processes sharing a PostgreSQL database are. fresh creates
// a new, empty database and returns a function opening another Store on it;
// the suite opens three stores per test and keeps them all open while the
// test runs; each store registers its own cleanup.
func RunShared(t *testing.T, fresh func(t *testing.T) Reopen) {
	tests := []struct {
		name string
		fn   func(*testing.T, []store.Store)
	}{
		{"SeeEachOthersCommits", testSharedVisibility},
		{"InsertSameKey", func(t *testing.T, ss []store.Store) { insertRace(t, pickAmong(ss), 12) }},
		{"ClaimSameVersion", func(t *testing.T, ss []store.Store) { claimRace(t, pickAmong(ss[:2]), 2, 60, true) }},
		{"ClaimManyWorkers", func(t *testing.T, ss []store.Store) { claimRace(t, pickAmong(ss), 6, 20, true) }},
		{"Counter", func(t *testing.T, ss []store.Store) { counterRace(t, pickAmong(ss), 6, 15) }},
		{"Quota", func(t *testing.T, ss []store.Store) { quotaRace(t, pickAmong(ss), 9, 4) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reopen := fresh(t)
			ss := []store.Store{reopen(t), reopen(t), reopen(t)}
			tc.fn(t, ss)
		})
	}
}

func pickAmong(ss []store.Store) picker { return func(i int) store.Store { return ss[i%len(ss)] } }

func testConcurrentInsertSameKey(t *testing.T, s store.Store) { insertRace(t, one(s), 8) }
func testConcurrentClaim(t *testing.T, s store.Store)         { claimRace(t, one(s), 4, 30, false) }
func testConcurrentQuota(t *testing.T, s store.Store)         { quotaRace(t, one(s), 8, 3) }

// start runs fn(i) for workers goroutines released at once, and returns
// their errors by worker.
func start(workers int, fn func(i int) error) []error {
	var (
		wg   sync.WaitGroup
		gate = make(chan struct{})
		errs = make([]error, workers)
	)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			errs[i] = fn(i)
		}()
	}
	close(gate)
	wg.Wait()
	return errs
}

// rendezvous lets n goroutines wait for each other, each for at most d (an
// implementation that runs write transactions one at a time never lets them
// meet inside one).
type rendezvous struct {
	n       int32
	arrived atomic.Int32
	all     chan struct{}
}

func newRendezvous(n int) *rendezvous { return &rendezvous{n: int32(n), all: make(chan struct{})} }

func (r *rendezvous) wait(d time.Duration) {
	if r.arrived.Add(1) == r.n {
		close(r.all)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.all:
	case <-t.C:
	}
}

// insertRace: workers insert the same keys at the same time; for each key
// exactly one Insert succeeds and every other one reports ErrExists.
func insertRace(t *testing.T, pick picker, workers int) {
	ctx := t.Context()
	for key := range 10 {
		id := fmt.Sprintf("key-%d", key)
		errs := start(workers, func(i int) error {
			return pick(i).Update(ctx, func(tx store.Tx) error {
				return tx.Insert(ctx, &store.Record{Kind: "race", ID: id, Data: []byte(strconv.Itoa(i))})
			})
		})
		winners := 0
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				winner = i
			case !errors.Is(err, store.ErrExists):
				t.Fatalf("%s: worker %d: Insert = %v, want nil or ErrExists", id, i, err)
			}
		}
		if winners != 1 {
			t.Fatalf("%s: %d inserts succeeded, want exactly 1", id, winners)
		}
		for i := range workers {
			got := mustGet(t, pick(i), "race", id)
			if got.Version != 1 || string(got.Data) != strconv.Itoa(winner) {
				t.Fatalf("%s seen by worker %d: %+v, want the winner's (%d) at version 1", id, i, got, winner)
			}
		}
	}
}

// claimRace is a job claim: every worker reads the same version of one
// record, then tries to update that version at the same time. Exactly one
// wins each round; the others get ErrVersion. With overlap the workers also
// wait for each other inside their transactions, after a read, so that
// the transactions run at the same time.
func claimRace(t *testing.T, pick picker, workers, rounds int, overlap bool) {
	ctx := t.Context()
	mustUpdate(t, pick(0), func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "job", ID: "j", Pending: true, Data: []byte(`{"owner":""}`)})
	})
	wins := make([]int, workers)
	for round := range rounds {
		recs := make([]*store.Record, workers)
		for i := range workers {
			recs[i] = mustGet(t, pick(i), "job", "j")
			if recs[i].Version != int64(round+1) {
				t.Fatalf("round %d: worker %d read version %d", round, i, recs[i].Version)
			}
		}
		meet := newRendezvous(workers)
		errs := start(workers, func(i int) error {
			rec := recs[i]
			rec.Data = []byte(fmt.Sprintf(`{"owner":"w%d","round":%d}`, i, round))
			attempt := 0
			return pick(i).Update(ctx, func(tx store.Tx) error {
				attempt++
				if overlap && attempt == 1 {
					if _, err := tx.Get(ctx, "job", "j"); err != nil {
						return err
					}
					meet.wait(2 * time.Second)
				}
				return tx.Update(ctx, rec)
			})
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: workers %d and %d both updated version %d", round, winner, i, round+1)
				}
				winner = i
				if recs[i].Version != int64(round+2) {
					t.Fatalf("round %d: winner's Version = %d", round, recs[i].Version)
				}
			case errors.Is(err, store.ErrVersion):
				if recs[i].Version != int64(round+1) {
					t.Fatalf("round %d: a loser's Version changed to %d", round, recs[i].Version)
				}
			default:
				t.Fatalf("round %d: worker %d: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no worker won", round)
		}
		wins[winner]++
		got := mustGet(t, pick(0), "job", "j")
		if want := fmt.Sprintf(`{"owner":"w%d","round":%d}`, winner, round); got.Version != int64(round+2) || string(got.Data) != want {
			t.Fatalf("round %d: stored %+v, want version %d and %s", round, got, round+2, want)
		}
	}
	t.Logf("wins by worker: %v", wins)
}

// counterRace increments one counter from every worker, reading and writing
// in one Update: no increment is lost.
func counterRace(t *testing.T, pick picker, workers, perWorker int) {
	ctx := t.Context()
	mustUpdate(t, pick(0), func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "counter", ID: "c", Data: []byte("0")})
	})
	errs := start(workers, func(i int) error {
		for range perWorker {
			err := pick(i).Update(ctx, func(tx store.Tx) error {
				rec, err := tx.Get(ctx, "counter", "c")
				if err != nil {
					return err
				}
				n, err := strconv.Atoi(string(rec.Data))
				if err != nil {
					return err
				}
				rec.Data = []byte(strconv.Itoa(n + 1))
				return tx.Update(ctx, rec)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("workers failed: %v", err)
	}
	got := mustGet(t, pick(1), "counter", "c")
	if string(got.Data) != strconv.Itoa(workers*perWorker) || got.Version != int64(workers*perWorker+1) {
		t.Fatalf("counter = %s at version %d, want %d at %d (lost updates)", got.Data, got.Version, workers*perWorker, workers*perWorker+1)
	}
}

var errQuotaFull = errors.New("quota full")

// quotaRace: every worker inserts a record if fewer than quota exist, the
// check a Count inside the same Update. Serializable Updates never let
// the count exceed the quota.
func quotaRace(t *testing.T, pick picker, workers, quota int) {
	ctx := t.Context()
	for round := range 3 {
		parent := fmt.Sprintf("env-%d", round)
		q := store.Query{Kind: "member", Parent: parent}
		errs := start(workers, func(i int) error {
			return pick(i).Update(ctx, func(tx store.Tx) error {
				n, err := tx.Count(ctx, q)
				if err != nil {
					return err
				}
				if n >= quota {
					return errQuotaFull
				}
				return tx.Insert(ctx, &store.Record{Kind: "member", ID: fmt.Sprintf("%s-w%d", parent, i), Parent: parent, Data: []byte(`{}`)})
			})
		})
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, errQuotaFull):
				t.Fatalf("round %d: worker %d: %v", round, i, err)
			}
		}
		if n := count(t, pick(0), q); n != quota || ok != quota {
			t.Fatalf("round %d: %d inserts succeeded, %d records stored; want %d (quota exceeded or not reached)", round, ok, n, quota)
		}
	}
}

// testSharedVisibility: a commit through one Store is visible through every
// other as soon as Update returns, to Get, List and Count, and version
// checks span the stores.
func testSharedVisibility(t *testing.T, ss []store.Store) {
	ctx := t.Context()
	a, b := ss[0], ss[1]
	rec := &store.Record{Kind: "k", ID: "x", Parent: "p", SortKey: "1", Data: []byte(`{"v":1}`)}
	mustUpdate(t, a, func(tx store.Tx) error { return tx.Insert(ctx, rec) })
	got := mustGet(t, b, "k", "x")
	assertRecord(t, got, rec)
	got.Data = []byte(`{"v":2}`)
	mustUpdate(t, b, func(tx store.Tx) error { return tx.Update(ctx, got) })
	assertRecord(t, mustGet(t, a, "k", "x"), got)
	// a's copy is stale now.
	rec.Data = []byte(`{"v":"stale"}`)
	if err := a.Update(ctx, func(tx store.Tx) error { return tx.Update(ctx, rec) }); !errors.Is(err, store.ErrVersion) {
		t.Fatalf("stale Update through the other store = %v, want ErrVersion", err)
	}
	if err := a.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "x", Data: []byte(`{}`)})
	}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("Insert of a key the other store inserted = %v, want ErrExists", err)
	}
	mustUpdate(t, ss[2], func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "y", Parent: "p", SortKey: "2", Data: []byte(`{}`)})
	})
	for i, s := range ss {
		if l := list(t, s, store.Query{Kind: "k", Parent: "p", Reverse: true}); len(l) != 2 || l[0].ID != "y" {
			t.Fatalf("store %d lists %v, want [y x]", i, ids(l))
		}
		if n := count(t, s, store.Query{Kind: "k", Parent: "p"}); n != 2 {
			t.Fatalf("store %d counts %d, want 2", i, n)
		}
	}
	mustUpdate(t, b, func(tx store.Tx) error { return tx.Delete(ctx, "k", "x") })
	assertMissing(t, a, "k", "x")
	// DeleteExpired through one store removes what another wrote.
	mustUpdate(t, a, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "old", ExpiresAt: time.UnixMilli(5000), Data: []byte(`{}`)})
	})
	if n, err := b.DeleteExpired(ctx, time.UnixMilli(6000)); err != nil || n != 1 {
		t.Fatalf("DeleteExpired through the other store = %d, %v; want 1", n, err)
	}
	assertMissing(t, a, "k", "old")
}
