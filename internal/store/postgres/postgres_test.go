package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/postgres/pgtest"
	"github.com/openfinspace/openfinspace/internal/store/storetest"
)

// Run with a server:
//
//	OPENFINSPACE_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/openfinspace?sslmode=disable' go test ./internal/store/postgres/

func openURL(t testing.TB, url string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openTemp(t testing.TB, opts ...Option) *Store {
	t.Helper()
	return openURL(t, pgtest.URL(t), opts...)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) storetest.Reopen {
		url := pgtest.URL(t)
		return func(t *testing.T) store.Store { return openURL(t, url) }
	})
}

func TestDurability(t *testing.T) {
	storetest.RunDurability(t, func(t *testing.T) storetest.Reopen {
		url := pgtest.URL(t)
		return func(t *testing.T) store.Store { return openURL(t, url) }
	})
}

func insert(t testing.TB, s store.Store, recs ...*store.Record) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, r := range recs {
			if err := tx.Insert(context.Background(), r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
}

func get(t testing.TB, s store.Store, kind, id string) *store.Record {
	t.Helper()
	var rec *store.Record
	err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		rec, err = tx.Get(context.Background(), kind, id)
		return err
	})
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", kind, id, err)
	}
	return rec
}

// TestTwoPoolsRaceOnOneRecord is the job engine's claim: two Stores (two
// pools, as two processes) read the same version of a record and update it
// from transactions that are open at the same time. Exactly one update
// succeeds each round, the other reports ErrVersion, and the version
// advances by one per round.
func TestTwoPoolsRaceOnOneRecord(t *testing.T) {
	url := pgtest.URL(t)
	stores := []*Store{openURL(t, url), openURL(t, url)}
	ctx := t.Context()
	insert(t, stores[0], &store.Record{Kind: "job", ID: "j", Pending: true, Data: []byte(`{}`)})
	const rounds = 100
	wins := [2]int{}
	for round := range rounds {
		recs := [2]*store.Record{get(t, stores[0], "job", "j"), get(t, stores[1], "job", "j")}
		var (
			both    sync.WaitGroup // both transactions have read the record
			wg      sync.WaitGroup
			errs    [2]error
			entered [2]atomic.Int32
		)
		both.Add(2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				recs[i].Data = []byte(fmt.Sprintf(`{"owner":%d}`, i))
				errs[i] = stores[i].Update(ctx, func(tx store.Tx) error {
					if entered[i].Add(1) == 1 {
						if _, err := tx.Get(ctx, "job", "j"); err != nil {
							return err
						}
						both.Done()
						both.Wait()
					}
					return tx.Update(ctx, recs[i])
				})
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
				wins[i]++
			case !errors.Is(err, store.ErrVersion):
				t.Fatalf("round %d: store %d: %v", round, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d updates of version %d succeeded, want exactly 1", round, ok, round+1)
		}
		if got := get(t, stores[1], "job", "j"); got.Version != int64(round+2) {
			t.Fatalf("round %d: version %d, want %d", round, got.Version, round+2)
		}
	}
	retried := stores[0].retried.Load() + stores[1].retried.Load()
	t.Logf("wins %v; %d attempts retried after a conflict", wins, retried)
	// Every round had both transactions open at once, so every loser met
	// the winner's row lock and was retried.
	if retried < rounds {
		t.Fatalf("%d retries in %d rounds: the transactions did not overlap", retried, rounds)
	}
}

// TestWriteSkewRetried: two transactions each count the records of a quota
// and insert one when under it; run at the same time, one commits and the
// other fails to serialize, is called again, sees the first's insert and
// refuses.
func TestWriteSkewRetried(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	var (
		both  sync.WaitGroup
		wg    sync.WaitGroup
		calls [2]atomic.Int32
		errs  [2]error
	)
	errFull := errors.New("full")
	both.Add(2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				n, err := tx.Count(ctx, store.Query{Kind: "member", Parent: "env"})
				if err != nil {
					return err
				}
				if calls[i].Add(1) == 1 {
					both.Done()
					both.Wait()
				}
				if n >= 1 {
					return errFull
				}
				return tx.Insert(ctx, &store.Record{Kind: "member", ID: fmt.Sprint(i), Parent: "env", Data: []byte(`{}`)})
			})
		}()
	}
	wg.Wait()
	if !(errs[0] == nil && errs[1] == errFull || errs[0] == errFull && errs[1] == nil) {
		t.Fatalf("results %v, %v; want one insert and one errFull", errs[0], errs[1])
	}
	if c := calls[0].Load() + calls[1].Load(); c != 3 {
		t.Fatalf("fn called %d times, want 3 (the loser once more)", c)
	}
}

// conflictOnce makes the next Update of the record by s conflict with a
// concurrent one: fn is entered, then another store commits an update of
// the same row.
func TestConflictSwallowedByFnIsRetried(t *testing.T) {
	url := pgtest.URL(t)
	s, other := openURL(t, url), openURL(t, url)
	ctx := t.Context()
	insert(t, s, &store.Record{Kind: "k", ID: "a", Data: []byte(`0`)})
	calls := 0
	err := s.Update(ctx, func(tx store.Tx) error {
		calls++
		rec, err := tx.Get(ctx, "k", "a")
		if err != nil {
			return err
		}
		if calls == 1 {
			// Another process updates the row after this snapshot.
			cur := get(t, other, "k", "a")
			if err := other.Update(ctx, func(otx store.Tx) error { return otx.Update(ctx, cur) }); err != nil {
				return err
			}
		}
		rec.Data = []byte(fmt.Sprint(calls))
		_ = tx.Update(ctx, rec) // a careless fn: the conflict is ignored
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if calls != 2 {
		t.Fatalf("fn called %d times, want 2", calls)
	}
	if got := get(t, s, "k", "a"); got.Version != 3 || string(got.Data) != "2" {
		t.Fatalf("stored %+v, want version 3 from the second call", got)
	}
}

func TestRetriesExhausted(t *testing.T) {
	url := pgtest.URL(t)
	s, other := openURL(t, url, WithRetries(0)), openURL(t, url)
	ctx := t.Context()
	rec := &store.Record{Kind: "k", ID: "a", Data: []byte(`0`)}
	insert(t, s, rec)
	calls := 0
	err := s.Update(ctx, func(tx store.Tx) error {
		calls++
		if _, err := tx.Get(ctx, "k", "a"); err != nil {
			return err
		}
		cur := get(t, other, "k", "a")
		if err := other.Update(ctx, func(otx store.Tx) error { return otx.Update(ctx, cur) }); err != nil {
			return err
		}
		return tx.Update(ctx, rec)
	})
	if !errors.Is(err, ErrConflict) || !isConflict(err) || calls != 1 {
		t.Fatalf("Update = %v after %d calls, want ErrConflict wrapping SQLSTATE 40001 after 1", err, calls)
	}
	if rec.Version != 1 {
		t.Fatalf("rec.Version = %d after the failed attempt, want 1", rec.Version)
	}
	t.Log(err)
}

// TestRetryRestoresVersions: a retried attempt starts from the versions
// the caller held, so an fn that updates a record it was given can run
// again.
func TestRetryRestoresVersions(t *testing.T) {
	url := pgtest.URL(t)
	s, other := openURL(t, url), openURL(t, url)
	ctx := t.Context()
	mine := &store.Record{Kind: "k", ID: "mine", Data: []byte(`0`)}
	insert(t, s, mine, &store.Record{Kind: "k", ID: "shared", Data: []byte(`0`)})
	var seen []int64
	err := s.Update(ctx, func(tx store.Tx) error {
		seen = append(seen, mine.Version)
		if err := tx.Update(ctx, mine); err != nil {
			return err
		}
		shared, err := tx.Get(ctx, "k", "shared")
		if err != nil {
			return err
		}
		if len(seen) == 1 {
			cur := get(t, other, "k", "shared")
			if err := other.Update(ctx, func(otx store.Tx) error { return otx.Update(ctx, cur) }); err != nil {
				return err
			}
		}
		return tx.Update(ctx, shared)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 1 || mine.Version != 2 {
		t.Fatalf("versions seen by fn %v, final %d; want [1 1] and 2", seen, mine.Version)
	}
}

func TestMigrations(t *testing.T) {
	url := pgtest.URL(t)
	// Several processes starting at once on an empty schema.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(t.Context(), url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Open: %v", err)
	}
	s := openURL(t, url)
	var n, max int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != SchemaVersion() || max != SchemaVersion() {
		t.Fatalf("schema_migrations has %d rows up to %d, want %d", n, max, SchemaVersion())
	}
	// Columns are bytewise text, bytea and bigint.
	rows, err := s.pool.Query(t.Context(), `SELECT column_name, data_type, coalesce(collation_name, '')
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'records' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var name, typ, coll string
		if err := rows.Scan(&name, &typ, &coll); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, strings.TrimSuffix(name+" "+typ+" "+coll, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"kind text C", "id text C", "parent text C", "sort_key text C", "pending boolean",
		"expires_at bigint", "version bigint", "data bytea"}
	if strings.Join(cols, ", ") != strings.Join(want, ", ") {
		t.Fatalf("columns %q, want %q", cols, want)
	}

	// A schema migrated by a newer release is refused.
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	_, err = Open(t.Context(), url)
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "999") {
		t.Fatalf("Open of a schema at version 999 = %v, want ErrSchemaTooNew naming 999", err)
	}
	t.Log(err)
}

func TestOpenErrors(t *testing.T) {
	base := pgtest.ServerURL(t)
	// A schema that does not exist.
	missing := base + "&search_path=no_such_schema_here"
	if !strings.Contains(base, "?") {
		missing = base + "?search_path=no_such_schema_here"
	}
	if _, err := Open(t.Context(), missing); err == nil || !strings.Contains(err.Error(), "no schema") {
		t.Fatalf("Open with a missing schema = %v", err)
	}
	// Nothing listening: the error names the server but not the password.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://someone:s3cr3t-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Fatalf("Open of an unreachable server = %v (must fail without the password)", err)
	}
	t.Log(err)
	if _, err := Open(t.Context(), "postgres://u:s3cr3t-pw@[::1"); err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Fatalf("Open of a malformed URL = %v (must fail without the password)", err)
	}
	if _, err := Open(t.Context(), base, WithRetries(-1)); err == nil {
		t.Fatal("Open with negative retries succeeded")
	}
}

func TestClosed(t *testing.T) {
	s := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	noop := func(store.Tx) error { return nil }
	if err := s.Update(t.Context(), noop); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close = %v", err)
	}
	if err := s.View(t.Context(), noop); !errors.Is(err, ErrClosed) {
		t.Errorf("View after Close = %v", err)
	}
	if _, err := s.DeleteExpired(t.Context(), time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("DeleteExpired after Close = %v", err)
	}
}

func TestTxUnusableAfterReturn(t *testing.T) {
	s := openTemp(t)
	var leaked store.Tx
	if err := s.Update(t.Context(), func(tx store.Tx) error { leaked = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := leaked.Get(t.Context(), "k", "a"); !errors.Is(err, errTxDone) {
		t.Fatalf("Get on a finished tx = %v", err)
	}
	if err := s.View(t.Context(), func(tx store.Tx) error { leaked = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := leaked.Count(t.Context(), store.Query{Kind: "k"}); !errors.Is(err, errTxDone) {
		t.Fatalf("Count on a finished View = %v", err)
	}
}

func TestWritesInViewAreErrReadOnly(t *testing.T) {
	s := openTemp(t)
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.Insert(t.Context(), &store.Record{Kind: "k", ID: "a", Data: []byte(`{}`)})
	})
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Insert in View = %v, want ErrReadOnly", err)
	}
}

// TestCancelWhileWaiting: an Update waiting for a row lock held by another
// transaction returns promptly when its context is cancelled, and the store
// still works afterwards.
func TestCancelWhileWaiting(t *testing.T) {
	url := pgtest.URL(t)
	s, other := openURL(t, url, WithMaxConns(2)), openURL(t, url)
	insert(t, s, &store.Record{Kind: "k", ID: "a", Data: []byte(`{}`)})
	holding := make(chan struct{})
	release := make(chan struct{})
	go func() {
		_ = other.Update(context.Background(), func(tx store.Tx) error {
			rec, err := tx.Get(context.Background(), "k", "a")
			if err != nil {
				return err
			}
			if err := tx.Update(context.Background(), rec); err != nil {
				return err
			}
			close(holding)
			<-release
			return errors.New("roll back")
		})
	}()
	<-holding
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err := s.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, "k", "a")
		if err != nil {
			return err
		}
		return tx.Update(ctx, rec) // waits for the other's row lock
	})
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Update = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("cancelled Update returned after %v", d)
	}
	for range 4 { // more than the pool holds: no connection was lost
		insert(t, s, &store.Record{Kind: "k", ID: fmt.Sprint(time.Now().UnixNano()), Data: []byte(`{}`)})
	}
	if got := get(t, s, "k", "a"); got.Version != 1 {
		t.Fatalf("version %d after the cancelled and the rolled-back updates, want 1", got.Version)
	}
}

// TestDeleteExpiredSkipsLockedRows: a sweep neither waits for nor fails on
// an expired record another transaction is writing; the next sweep takes it.
func TestDeleteExpiredSkipsLockedRows(t *testing.T) {
	url := pgtest.URL(t)
	s, other := openURL(t, url), openURL(t, url)
	insert(t, s, &store.Record{Kind: "k", ID: "busy", ExpiresAt: time.UnixMilli(1000), Data: []byte(`{}`)},
		&store.Record{Kind: "k", ID: "idle", ExpiresAt: time.UnixMilli(1000), Data: []byte(`{}`)})
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- other.Update(context.Background(), func(tx store.Tx) error {
			rec, err := tx.Get(context.Background(), "k", "busy")
			if err != nil {
				return err
			}
			rec.ExpiresAt = time.Time{} // no longer expires
			if err := tx.Update(context.Background(), rec); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	n, err := s.DeleteExpired(t.Context(), time.UnixMilli(5000))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1 (the idle record)", n, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(t.Context(), time.UnixMilli(5000)); err != nil || n != 0 {
		t.Fatalf("second DeleteExpired = %d, %v; want 0 (busy no longer expires)", n, err)
	}
	get(t, s, "k", "busy")
}

// TestQueryPlans checks that listings of many records are index range
// scans in index order (no sort, no sequential scan) that stop at LIMIT, on
// a table with statistics. (For a listing of a few hundred records the
// planner may rightly prefer a bitmap scan and a sort.)
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	// 120 000 rows: 2 kinds x 3 parents, half of them pending.
	if _, err := s.pool.Exec(ctx, `INSERT INTO records (kind, id, parent, sort_key, pending, expires_at, version, data)
		SELECT (ARRAY['a','b'])[1 + i % 2], lpad(i::text, 6, '0'), 'p' || (i / 2 % 3), lpad((200000 - i)::text, 6, '0'),
			i % 4 < 2, CASE WHEN i % 10 = 0 THEN i ELSE 0 END, 1, '\x7b7d'::bytea
		FROM generate_series(1, 120000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE records`); err != nil {
		t.Fatal(err)
	}
	bound := "170000"
	for _, anyParent := range []bool{false, true} {
		for _, pending := range []bool{false, true} {
			for _, reverse := range []bool{false, true} {
				for _, after := range []*store.Cursor{nil, {SortKey: "150000", ID: "050000"}} {
					for _, max := range []*string{nil, &bound} {
						q := store.Query{Kind: "a", Parent: "p1", AnyParent: anyParent, PendingOnly: pending,
							Reverse: reverse, After: after, SortKeyMax: max, Limit: 100}
						query, args := listSQL(q)
						plan := explain(t, s, query, args...)
						name := describeQuery(q)
						t.Logf("%s:\n%s", name, plan)
						if !strings.Contains(plan, "Index Scan") || strings.Contains(plan, "Sort") || strings.Contains(plan, "Seq Scan") {
							t.Errorf("%s: plan is not an ordered index scan:\n%s", name, plan)
						}
						if reverse && !strings.Contains(plan, "Backward") {
							t.Errorf("%s: reverse listing does not scan backward:\n%s", name, plan)
						}
						if !strings.Contains(plan, "Limit") {
							t.Errorf("%s: no Limit:\n%s", name, plan)
						}
						// Counting every record of kind a counts half the
						// table, where a sequential scan is the right plan.
						cquery, cargs := countSQL(q)
						if plan := explain(t, s, cquery, cargs...); strings.Contains(plan, "Seq Scan") && !(anyParent && !pending) {
							t.Errorf("count %s: sequential scan:\n%s", name, plan)
						}
					}
				}
			}
		}
	}
	for _, q := range []string{sqlGet, sqlVersion, sqlDelete} {
		if plan := explain(t, s, q, "a", "1"); !strings.Contains(plan, "records_pkey") {
			t.Errorf("%s:\n%s", q, plan)
		}
	}
	if plan := explain(t, s, sqlDeleteExpired, int64(50), 10); !strings.Contains(plan, "records_expires") {
		t.Errorf("DeleteExpired plan does not use records_expires:\n%s", plan)
	}
}

func describeQuery(q store.Query) string {
	s := fmt.Sprintf("any=%v pending=%v reverse=%v", q.AnyParent, q.PendingOnly, q.Reverse)
	if q.After != nil {
		s += fmt.Sprintf(" after=(%s,%s)", q.After.SortKey, q.After.ID)
	}
	if q.SortKeyMax != nil {
		s += " max=" + *q.SortKeyMax
	}
	return s
}

func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	return strings.Join(lines, "\n")
}
