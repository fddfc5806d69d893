package postgres

import (
	"testing"

	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/storetest"
)

// BenchmarkStore runs the workloads shared with the SQLite implementation
// (storetest.Benchmarks); each sub-benchmark has a schema of its own.
//
//	OPENFINSPACE_TEST_POSTGRES=... go test -run '^$' -bench BenchmarkStore -p 1 ./internal/store/sqlite ./internal/store/postgres
func BenchmarkStore(b *testing.B) {
	storetest.Benchmarks(b, func(b *testing.B) store.Store { return openTemp(b) })
}
