package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/openfinspace/openfinspace/internal/store"
)

// benchDoc is a typical small JSON document (~300 bytes).
var benchDoc = []byte(`{"environmentId":"abcdefghijklmnopqrstuv","name":"my-environment","status":"CREATED",` +
	`"kmsKeyId":"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",` +
	`"tags":{"team":"quant","cost-center":"1234"},"createdTimestamp":1718000000.123,"description":"benchmark record"}`)

const benchRecords = 10000

func seedBench(b *testing.B, s store.Store) []*store.Record {
	b.Helper()
	ctx := context.Background()
	recs := make([]*store.Record, benchRecords)
	for i := range recs {
		recs[i] = &store.Record{Kind: "k", ID: fmt.Sprintf("id-%06d", i), Parent: "env-1",
			SortKey: fmt.Sprintf("sk-%06d", i), Data: benchDoc}
	}
	for start := 0; start < len(recs); start += 1000 {
		err := s.Update(ctx, func(tx store.Tx) error {
			for _, r := range recs[start:min(start+1000, len(recs))] {
				if err := tx.Insert(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return recs
}

// Benchmarks runs the same workloads on an implementation, so that the
// figures of two implementations compare side by side (run both packages
// with -bench BenchmarkStore in one go test). open returns a fresh, empty
// store per sub-benchmark.
//
//	Insert       one single-record Update (its commit is the cost)
//	Update       a read-modify-write of one record in one Update
//	Get          one Get in a View, of 10 000 records
//	List100      a page of 100 in the middle of 10 000, in a View
//	ListAsOf100  the newest 100 at or below a bound in the middle (Reverse, SortKeyMax)
//	Count        Count of the 10 000 records of a parent
func Benchmarks(b *testing.B, open func(b *testing.B) store.Store) {
	ctx := context.Background()
	b.Run("Insert", func(b *testing.B) {
		s := open(b)
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
	b.Run("Update", func(b *testing.B) {
		s := open(b)
		seedBench(b, s)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			id := fmt.Sprintf("id-%06d", i%benchRecords)
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
	b.Run("Get", func(b *testing.B) {
		s := open(b)
		seedBench(b, s)
		rng := rand.New(rand.NewPCG(1, 1))
		b.ReportAllocs()
		for b.Loop() {
			id := fmt.Sprintf("id-%06d", rng.IntN(benchRecords))
			if err := s.View(ctx, func(tx store.Tx) error { _, err := tx.Get(ctx, "k", id); return err }); err != nil {
				b.Fatal(err)
			}
		}
	})
	page := func(name string, q func(recs []*store.Record) store.Query, want int) {
		b.Run(name, func(b *testing.B) {
			s := open(b)
			qq := q(seedBench(b, s))
			b.ReportAllocs()
			for b.Loop() {
				err := s.View(ctx, func(tx store.Tx) error {
					l, err := tx.List(ctx, qq)
					if err == nil && len(l) != want {
						err = fmt.Errorf("page of %d, want %d", len(l), want)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	page("List100", func(recs []*store.Record) store.Query {
		mid := recs[len(recs)/2]
		return store.Query{Kind: "k", Parent: "env-1", Limit: 100, After: &store.Cursor{SortKey: mid.SortKey, ID: mid.ID}}
	}, 100)
	page("ListAsOf100", func(recs []*store.Record) store.Query {
		return store.Query{Kind: "k", Parent: "env-1", Limit: 100, Reverse: true, SortKeyMax: &recs[len(recs)/2].SortKey}
	}, 100)
	b.Run("Count", func(b *testing.B) {
		s := open(b)
		seedBench(b, s)
		b.ReportAllocs()
		for b.Loop() {
			err := s.View(ctx, func(tx store.Tx) error {
				n, err := tx.Count(ctx, store.Query{Kind: "k", Parent: "env-1"})
				if err == nil && n != benchRecords {
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
