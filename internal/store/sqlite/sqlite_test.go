package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/storetest"
)

func openTemp(t testing.TB, opts ...Option) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "metadata.db"), opts...)
}

func openAt(t testing.TB, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openTemp(t)
		t.Cleanup(func() { checkIntegrity(t, s.w) }) // runs before Close
		return s
	})
}

func checkIntegrity(t testing.TB, db *sql.DB) {
	t.Helper()
	var got string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&got); err != nil {
		t.Errorf("integrity_check: %v", err)
	} else if got != "ok" {
		t.Errorf("integrity_check: %s", got)
	}
}

func TestConformanceSynchronousNormal(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t, WithSynchronous(SynchronousNormal)) })
}

func TestDurability(t *testing.T) {
	storetest.RunDurability(t, func(t *testing.T) storetest.Reopen {
		path := filepath.Join(t.TempDir(), "data", "metadata.db")
		return func(t *testing.T) store.Store {
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() }) // idempotent; the suite closes first
			return s
		}
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

func count(t testing.TB, s store.Store, q store.Query) int {
	t.Helper()
	var n int
	err := s.View(context.Background(), func(tx store.Tx) error {
		l, err := tx.List(context.Background(), q)
		n = len(l)
		return err
	})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return n
}

func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		insert(t, s, &store.Record{Kind: "k", ID: fmt.Sprint(i), Data: []byte(`{}`)})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A clean close checkpoints and removes the WAL.
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WAL left after a clean Close: %v", err)
	}
	s = openAt(t, path)
	if n := count(t, s, store.Query{Kind: "k"}); n != 20 {
		t.Fatalf("after restart: %d records, want 20", n)
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "metadata.db")
	s := openAt(t, path)
	insert(t, s, &store.Record{Kind: "k", ID: "x", Data: []byte(`{}`)})
	for _, p := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("%s: mode %o, want 700", p, got)
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %o, want 600", p, got)
		}
	}
}

func TestPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "we?ird #dir% &=x", "meta data.db")
	s := openAt(t, path)
	insert(t, s, &store.Record{Kind: "k", ID: "x", Data: []byte(`{}`)})
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
	if s.Path() != path {
		t.Fatalf("Path() = %q, want %q", s.Path(), path)
	}
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path string
		opts []Option
	}{
		{"", nil},
		{":memory:", nil},
		{"file:x.db", nil},
		{filepath.Join(dir, "a.db"), []Option{WithSynchronous("OFF")}},
		{filepath.Join(dir, "b.db"), []Option{WithReadConns(0)}},
		{filepath.Join(dir, "c.db"), []Option{WithBusyRetries(-1)}},
	} {
		if s, err := Open(t.Context(), tc.path, tc.opts...); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", tc.path)
		}
	}
	// Not a database.
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), junk); err == nil {
		s.Close()
		t.Error("Open of a non-database file succeeded")
	}
}

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// readerPragma reads a PRAGMA on a connection of the read pool.
func readerPragma(t *testing.T, s *Store, name string) string {
	t.Helper()
	rc, err := s.r.get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.r.put(rc, false)
	rows, err := rc.conn.(driver.QueryerContext).QueryContext(t.Context(), "PRAGMA "+name, nil)
	if err != nil {
		t.Fatalf("reader PRAGMA %s: %v", name, err)
	}
	defer rows.Close()
	v := make([]driver.Value, 1)
	if err := rows.Next(v); err != nil {
		t.Fatalf("reader PRAGMA %s: %v", name, err)
	}
	return fmt.Sprint(v[0])
}

func TestPragmas(t *testing.T) {
	s := openTemp(t, WithBusyTimeout(1234*time.Millisecond))
	for name, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "1234",
	} {
		if got := pragma(t, s.w, name); got != want {
			t.Errorf("writer PRAGMA %s = %s, want %s", name, got, want)
		}
	}
	for name, want := range map[string]string{
		"journal_mode": "wal",
		"query_only":   "1",
		"busy_timeout": "1234",
	} {
		if got := readerPragma(t, s, name); got != want {
			t.Errorf("reader PRAGMA %s = %s, want %s", name, got, want)
		}
	}
	// The read pool refuses writes at the SQL level too.
	rc, err := s.r.get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, err = rc.conn.(driver.ExecerContext).ExecContext(t.Context(), `INSERT INTO records (kind, id, version, data) VALUES ('k', 'x', 1, x'')`, nil)
	s.r.put(rc, false)
	if err == nil {
		t.Error("write through the read-only pool succeeded")
	}
	// Update uses BEGIN IMMEDIATE: it takes the write lock at once, so a
	// second connection cannot start writing.
	err = s.Update(t.Context(), func(tx store.Tx) error {
		other, err := sql.Open("sqlite", s.path+"?_pragma=busy_timeout(0)")
		if err != nil {
			return err
		}
		defer other.Close()
		if _, err := other.Exec(`BEGIN IMMEDIATE`); err == nil {
			other.Exec(`ROLLBACK`)
			t.Error("a second writer got the write lock while Update was running")
		} else if !isBusy(err) {
			t.Errorf("second writer: %v, want SQLITE_BUSY", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	n := openTemp(t, WithSynchronous(SynchronousNormal))
	if got := pragma(t, n.w, "synchronous"); got != "1" {
		t.Errorf("NORMAL: PRAGMA synchronous = %s, want 1", got)
	}
}

func schemaRows(t *testing.T, db *sql.DB) map[int]int64 {
	t.Helper()
	rows, err := db.Query(`SELECT version, applied_at FROM schema_migrations`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		out[v] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	insert(t, s, &store.Record{Kind: "k", ID: "x", Data: []byte(`{}`)})
	first := schemaRows(t, s.w)
	if len(first) != SchemaVersion() {
		t.Fatalf("schema_migrations has %d rows, want %d", len(first), SchemaVersion())
	}
	s.Close()
	time.Sleep(5 * time.Millisecond)
	for range 3 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		again := schemaRows(t, s.w)
		if fmt.Sprint(again) != fmt.Sprint(first) {
			t.Fatalf("reopen changed schema_migrations: %v, was %v", again, first)
		}
		if n := count(t, s, store.Query{Kind: "k"}); n != 1 {
			t.Fatalf("reopen lost data: %d records", n)
		}
		s.Close()
	}
}

func TestMigrateIncremental(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	insert(t, s, &store.Record{Kind: "k", ID: "x", Data: []byte(`{}`)})
	s.Close()

	db := rawDB(t, path)
	next := append(append([]string(nil), migrations...),
		`CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (42);`)
	if err := migrate(t.Context(), db, next); err != nil {
		t.Fatalf("migrate to %d: %v", len(next), err)
	}
	if err := migrate(t.Context(), db, next); err != nil {
		t.Fatalf("second migrate to %d: %v", len(next), err)
	}
	var x, n int
	if err := db.QueryRow(`SELECT x, (SELECT COUNT(*) FROM extra) FROM extra`).Scan(&x, &n); err != nil || x != 42 || n != 1 {
		t.Fatalf("extra migration ran wrongly: x=%d n=%d err=%v", x, n, err)
	}
	if got := len(schemaRows(t, db)); got != len(next) {
		t.Fatalf("schema_migrations has %d rows, want %d", got, len(next))
	}

	// A failing migration is rolled back whole, including earlier ones in
	// the same run.
	bad := append(append([]string(nil), next...),
		`CREATE TABLE good (x INTEGER)`,
		`CREATE TABLE broken (`)
	if err := migrate(t.Context(), db, bad); err == nil {
		t.Fatal("broken migration succeeded")
	}
	if got := len(schemaRows(t, db)); got != len(next) {
		t.Fatalf("after failed migration: %d rows, want %d", got, len(next))
	}
	if _, err := db.Exec(`SELECT * FROM good`); err == nil {
		t.Fatal("migration before the broken one was kept")
	}
	db.Close()

	// This binary knows fewer versions than the database has.
	if s, err := Open(t.Context(), path); !errors.Is(err, ErrSchemaTooNew) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open of a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database at schema 999 succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "999") {
		t.Fatalf("error %q should match ErrSchemaTooNew and name version 999", err)
	}
	t.Log(err)
}

func explain(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "\n")
}

func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	var recs []*store.Record
	for i := range 2000 {
		recs = append(recs, &store.Record{Kind: []string{"a", "b", "c"}[i%3], ID: fmt.Sprintf("%05d", i),
			Parent: fmt.Sprintf("p%d", i%7), SortKey: fmt.Sprintf("%05d", 2000-i), Pending: i%50 == 0,
			ExpiresAt: time.UnixMilli(int64(i%2) * int64(1_700_000_000_000+i)), Data: []byte(`{}`)})
	}
	insert(t, s, recs...)

	// The store never runs ANALYZE, so production plans are the ones
	// without statistics; check them with statistics too, in case an
	// operator runs ANALYZE or PRAGMA optimize.
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, err := s.w.Exec(`ANALYZE`); err != nil {
				t.Fatal(err)
			}
			// Statistics are read when a connection loads the schema.
			s.Close()
			s = openAt(t, s.path)
		}
		t.Run(fmt.Sprintf("analyzed=%v", analyzed), func(t *testing.T) { checkPlans(t, s) })
	}
}

func checkPlans(t *testing.T, s *Store) {
	// Every statement shape, with a cursor and a bound in the data's range.
	for _, q := range queryShapes() {
		q.Kind, q.Parent = "a", "p1"
		if q.After != nil {
			q.After = &store.Cursor{SortKey: map[string]string{"a": "00500", "z": "01500"}[q.After.SortKey], ID: "00999"}
		}
		if q.SortKeyMax != nil {
			bound := "01000"
			q.SortKeyMax = &bound
		}
		for _, count := range []bool{false, true} {
			query, args := listSQL(q)
			if count {
				query, args = countSQL(q)
			}
			index := indexFor(q)
			plan := explain(t, s.w, query, args...)
			name := fmt.Sprintf("%+v (count %v)", q, count)
			t.Logf("%s:\n  %s", name, plan)
			if !strings.Contains(plan, "INDEX "+index+" (kind=?") {
				t.Errorf("%s: plan does not seek index %s:\n%s", name, index, plan)
			}
			if strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN") {
				t.Errorf("%s: plan scans or sorts:\n%s", name, plan)
			}
			if !count && q.After != nil && !strings.Contains(plan, "(sort_key,id)>(?,?)") && !strings.Contains(plan, "(sort_key,id)<(?,?)") &&
				!(q.Reverse && q.SortKeyMax != nil && q.After.SortKey > *q.SortKeyMax) {
				t.Errorf("%s: the cursor is not an index range constraint:\n%s", name, plan)
			}
			if q.SortKeyMax != nil && !strings.Contains(plan, "sort_key<?") &&
				!(!count && q.Reverse && q.After != nil && q.After.SortKey <= *q.SortKeyMax) {
				t.Errorf("%s: the bound is not an index range constraint:\n%s", name, plan)
			}
		}
	}

	plan := explain(t, s.w, sqlGet, "a", "1")
	if !strings.Contains(plan, "USING INDEX sqlite_autoindex_records_1 (kind=? AND id=?)") {
		t.Errorf("Get plan:\n%s", plan)
	}
	for _, q := range []string{sqlUpdate, sqlDelete} {
		plan := explain(t, s.w, q, "p", "s", 0, 0, []byte{}, "k", "i", 1)
		if !strings.Contains(plan, "USING INDEX sqlite_autoindex_records_1 (kind=? AND id=?)") {
			t.Errorf("plan of %s:\n%s", q, plan)
		}
	}
	plan = explain(t, s.w, sqlDeleteExpired, 5, 10)
	if !strings.Contains(plan, "INDEX records_expires (expires_at<?)") {
		t.Errorf("DeleteExpired plan does not seek records_expires:\n%s", plan)
	}
}

func TestReadersDoNotWaitForWriter(t *testing.T) {
	s := openTemp(t)
	insert(t, s, &store.Record{Kind: "k", ID: "a", Data: []byte(`{"v":0}`)})
	inFn := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(tx store.Tx) error {
			rec, err := tx.Get(context.Background(), "k", "a")
			if err != nil {
				return err
			}
			rec.Data = []byte(`{"v":1}`)
			if err := tx.Update(context.Background(), rec); err != nil {
				return err
			}
			close(inFn)
			<-release
			return nil
		})
	}()
	<-inFn
	// While the write transaction is open, several Views complete and see
	// the last committed state.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for range 10 {
		err := s.View(ctx, func(tx store.Tx) error {
			rec, err := tx.Get(ctx, "k", "a")
			if err != nil {
				return err
			}
			if string(rec.Data) != `{"v":0}` {
				t.Errorf("View saw uncommitted data %s", rec.Data)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("View while a write is open: %v", err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestUpdateQueues checks that concurrent Updates wait for the single writer
// connection (honouring their context) instead of failing.
func TestUpdateQueues(t *testing.T) {
	s := openTemp(t)
	inFn := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(tx store.Tx) error {
			close(inFn)
			<-release
			return nil
		})
	}()
	<-inFn
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := s.Update(ctx, func(tx store.Tx) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued Update with an expiring context = %v, want DeadlineExceeded", err)
	}
	second := make(chan error, 1)
	go func() {
		second <- s.Update(context.Background(), func(tx store.Tx) error {
			return tx.Insert(context.Background(), &store.Record{Kind: "k", ID: "queued", Data: []byte(`{}`)})
		})
	}()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatalf("queued Update: %v", err)
	}
}

// TestBusyRetry holds the write lock from another connection to the same
// file, as a tool such as the sqlite3 shell in another process would (other
// Stores cannot: see TestSecondOpenRefused), and checks that Update retries,
// then gives up.
func TestBusyRetry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	b := openAt(t, path, WithBusyTimeout(5*time.Millisecond), WithBusyRetries(6))
	other, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })

	hold := func(d time.Duration) (started, finished chan struct{}) {
		started, finished = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(finished)
			tx, err := other.BeginTx(context.Background(), nil)
			if err != nil {
				t.Error(err)
				close(started)
				return
			}
			close(started)
			time.Sleep(d)
			tx.Rollback()
		}()
		return started, finished
	}

	// Lock released within the retry window: b succeeds.
	started, finished := hold(60 * time.Millisecond)
	<-started
	var calls atomic.Int32
	err = b.Update(t.Context(), func(tx store.Tx) error {
		calls.Add(1)
		return tx.Insert(context.Background(), &store.Record{Kind: "k", ID: "after-busy", Data: []byte(`{}`)})
	})
	if err != nil {
		t.Fatalf("Update after a short lock: %v", err)
	}
	if calls.Load() != 1 {
		// BEGIN IMMEDIATE fails before fn runs, so fn ran once.
		t.Errorf("fn ran %d times", calls.Load())
	}
	<-finished
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// Lock held past every retry: c fails with a busy error, no write.
	c := openAt(t, path, WithBusyTimeout(time.Millisecond), WithBusyRetries(2))
	started, finished = hold(300 * time.Millisecond)
	<-started
	begin := time.Now()
	err = c.Update(t.Context(), func(tx store.Tx) error {
		return tx.Insert(context.Background(), &store.Record{Kind: "k", ID: "never", Data: []byte(`{}`)})
	})
	if err == nil || !isBusy(err) {
		t.Fatalf("Update under a long lock = %v, want SQLITE_BUSY", err)
	}
	t.Logf("gave up after %v: %v", time.Since(begin), err)
	<-finished
	if n := count(t, c, store.Query{Kind: "k"}); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

// TestSecondOpenRefused: one Store per database. Readers rely on every
// commit going through this Store's writer (see read.go), so a second Store
// on the same file, here or in another process, is refused until the first
// closes.
func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	a, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := Open(t.Context(), path); !errors.Is(err, ErrInUse) {
		if err == nil {
			b.Close()
		}
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := openAt(t, path)
	if err := b.View(t.Context(), func(store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Update(t.Context(), func(store.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close = %v", err)
	}
	if err := s.View(t.Context(), func(store.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
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
	if err := leaked.Insert(t.Context(), &store.Record{Kind: "k", ID: "x", Data: []byte(`{}`)}); err == nil {
		t.Fatal("Insert on a finished transaction succeeded")
	}
	if _, err := leaked.Get(t.Context(), "k", "x"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get on a finished transaction = %v", err)
	}
}

func TestWritesInViewAreErrReadOnly(t *testing.T) {
	s := openTemp(t)
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.Insert(t.Context(), &store.Record{Kind: "k", ID: "x", Data: []byte(`{}`)})
	})
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Insert in View = %v, want ErrReadOnly", err)
	}
}

func TestInvalidRecords(t *testing.T) {
	s := openTemp(t)
	for _, rec := range []*store.Record{nil, {ID: "x"}, {Kind: "k"}} {
		err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Insert(t.Context(), rec) })
		if err == nil {
			t.Errorf("Insert(%+v) succeeded", rec)
		}
	}
	err := s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.List(t.Context(), store.Query{Kind: "k", Limit: -1})
		return err
	})
	if err == nil {
		t.Error("List with a negative limit succeeded")
	}
}

func TestDeleteExpiredBatches(t *testing.T) {
	s := openTemp(t)
	var recs []*store.Record
	for i := range 2*expiryBatch + 17 {
		recs = append(recs, &store.Record{Kind: "idempotency", ID: fmt.Sprint(i),
			ExpiresAt: time.UnixMilli(1_000_000 + int64(i)), Data: []byte(`{}`)})
	}
	recs = append(recs, &store.Record{Kind: "idempotency", ID: "live", ExpiresAt: time.UnixMilli(9_000_000), Data: []byte(`{}`)})
	insert(t, s, recs...)
	n, err := s.DeleteExpired(t.Context(), time.UnixMilli(5_000_000))
	if err != nil || n != 2*expiryBatch+17 {
		t.Fatalf("DeleteExpired = %d, %v; want %d", n, err, 2*expiryBatch+17)
	}
	if c := count(t, s, store.Query{Kind: "idempotency"}); c != 1 {
		t.Fatalf("%d left, want 1", c)
	}
}
