package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/storetest"
)

// benchDoc is a typical small JSON document (~300 bytes).
var benchDoc = []byte(`{"environmentId":"abcdefghijklmnopqrstuv","name":"my-environment","status":"CREATED",` +
	`"kmsKeyId":"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",` +
	`"tags":{"team":"quant","cost-center":"1234"},"createdTimestamp":1718000000.123,"description":"benchmark record"}`)

func seedBench(b *testing.B, s *Store, kind string, n int) []*store.Record {
	b.Helper()
	recs := make([]*store.Record, n)
	for i := range n {
		recs[i] = &store.Record{Kind: kind, ID: fmt.Sprintf("id-%06d", i), Parent: "env-1",
			SortKey: fmt.Sprintf("sk-%06d", i), Data: benchDoc}
	}
	for start := 0; start < n; start += 1000 {
		insert(b, s, recs[start:min(start+1000, n)]...)
	}
	return recs
}

func BenchmarkGet(b *testing.B) {
	s := openTemp(b)
	seedBench(b, s, "k", 10000)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		id := fmt.Sprintf("id-%06d", rng.IntN(10000))
		err := s.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get(ctx, "k", id)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetParallel(b *testing.B) {
	s := openTemp(b)
	seedBench(b, s, "k", 10000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			id := fmt.Sprintf("id-%06d", rng.IntN(10000))
			err := s.View(ctx, func(tx store.Tx) error {
				_, err := tx.Get(ctx, "k", id)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkInsert commits one record per transaction: the cost is dominated
// by the fsync of the WAL at commit under FULL.
func BenchmarkInsert(b *testing.B) {
	for _, sync := range []Synchronous{SynchronousFull, SynchronousNormal} {
		b.Run(string(sync), func(b *testing.B) {
			s := openTemp(b, WithSynchronous(sync))
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				rec := &store.Record{Kind: "k", ID: fmt.Sprintf("id-%09d", i), SortKey: fmt.Sprintf("%09d", i), Data: benchDoc}
				i++
				if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, rec) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUpdate is a read-modify-write of one record per transaction.
func BenchmarkUpdate(b *testing.B) {
	for _, sync := range []Synchronous{SynchronousFull, SynchronousNormal} {
		b.Run(string(sync), func(b *testing.B) {
			s := openTemp(b, WithSynchronous(sync))
			seedBench(b, s, "k", 1000)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				id := fmt.Sprintf("id-%06d", i%1000)
				i++
				err := s.Update(ctx, func(tx store.Tx) error {
					rec, err := tx.Get(ctx, "k", id)
					if err != nil {
						return err
					}
					return tx.Update(ctx, rec)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkList reads one page of 100 at the start and at the end of a
// 10 000-record listing: keyset pagination makes both cost the same.
func BenchmarkList(b *testing.B) {
	s := openTemp(b)
	recs := seedBench(b, s, "k", 10000)
	// Noise in other kinds and parents, so the index has neighbours.
	seedBench(b, s, "other", 5000)
	ctx := context.Background()
	last := recs[len(recs)-101]
	for _, bc := range []struct {
		name string
		q    store.Query
	}{
		{"start", store.Query{Kind: "k", Parent: "env-1", Limit: 100}},
		{"end", store.Query{Kind: "k", Parent: "env-1", Limit: 100, After: &store.Cursor{SortKey: last.SortKey, ID: last.ID}}},
		{"anyparent-start", store.Query{Kind: "k", AnyParent: true, Limit: 100}},
		{"anyparent-end", store.Query{Kind: "k", AnyParent: true, Limit: 100, After: &store.Cursor{SortKey: last.SortKey, ID: last.ID}}},
		{"reverse-start", store.Query{Kind: "k", Parent: "env-1", Limit: 100, Reverse: true}},
		{"reverse-end", store.Query{Kind: "k", Parent: "env-1", Limit: 100, Reverse: true, After: &store.Cursor{SortKey: recs[100].SortKey, ID: recs[100].ID}}},
		{"asof-middle", store.Query{Kind: "k", Parent: "env-1", Limit: 100, Reverse: true, SortKeyMax: &recs[5000].SortKey}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				err := s.View(ctx, func(tx store.Tx) error {
					page, err := tx.List(ctx, bc.q)
					if err == nil && len(page) != 100 {
						err = fmt.Errorf("page of %d", len(page))
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetTwo reads two records in one View (ListTagsForResource's
// shape): the difference from BenchmarkGet is the cost of a statement
// inside an open read transaction.
func BenchmarkGetTwo(b *testing.B) {
	s := openTemp(b)
	seedBench(b, s, "k", 10000)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		id1 := fmt.Sprintf("id-%06d", rng.IntN(10000))
		id2 := fmt.Sprintf("id-%06d", rng.IntN(10000))
		err := s.View(ctx, func(tx store.Tx) error {
			if _, err := tx.Get(ctx, "k", id1); err != nil {
				return err
			}
			_, err := tx.Get(ctx, "k", id2)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCount counts the 10 000 records of a parent, and those at or
// below a bound in the middle (an index-only range scan).
func BenchmarkCount(b *testing.B) {
	s := openTemp(b)
	recs := seedBench(b, s, "k", 10000)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		q    store.Query
		want int
	}{
		{"all", store.Query{Kind: "k", Parent: "env-1"}, 10000},
		{"bounded", store.Query{Kind: "k", Parent: "env-1", SortKeyMax: &recs[4999].SortKey}, 5000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				err := s.View(ctx, func(tx store.Tx) error {
					n, err := tx.Count(ctx, bc.q)
					if err == nil && n != bc.want {
						err = fmt.Errorf("count %d", n)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStore runs the workloads shared with the PostgreSQL
// implementation (storetest.Benchmarks), at the default synchronous=FULL.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmarks(b, func(b *testing.B) store.Store { return openTemp(b) })
}
