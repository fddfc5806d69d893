package dataset

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/ingest"
	"github.com/openfinspace/openfinspace/internal/jobs"
)

// countingEngine is the real engine, counting its conversions (Reserve is
// the engine's).
type countingEngine struct {
	*ingest.Engine
	mu    sync.Mutex
	calls int
}

func (c *countingEngine) Convert(ctx context.Context, src []ingest.Source, f ingest.Format, s ingest.Schema, out string) (int64, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Engine.Convert(ctx, src, f, s, out)
}

func newEngine(t *testing.T, l ingest.Limits) *countingEngine {
	t.Helper()
	l.StagingDir = filepath.Join(t.TempDir(), "engine")
	l.MemoryLimit = "256MB"
	e, err := ingest.New(l)
	if err != nil {
		t.Fatal(err)
	}
	return &countingEngine{Engine: e}
}

// A line longer than the reader's limit is the user's error: the
// changeset fails USER_RECOVERABLE naming the file and line after one
// attempt (it was INTERNAL_SERVICE_EXCEPTION after three).
func TestLongLineFailsOnceUserRecoverable(t *testing.T) {
	ctx := context.Background()
	eng := newEngine(t, ingest.Limits{})
	s, blobs, a, d, _ := newTestService(t, eng, nil, func(k *jobs.Kind) {
		k.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	})
	wb := blob.WorkingLocationBucket("000000000000", testRegion, testEnv)
	blobs.Put(ctx, wb, "ingestion/long.csv", strings.NewReader("a\nok\n"+strings.Repeat("x", 3<<20)+"\n"), -1)
	c, err := s.CreateChangeset(ctx, a, d.ID, ChangesetInput{Type: Append,
		SourceParams: map[string]string{"s3SourcePath": "s3://" + wb + "/ingestion/long.csv"},
		FormatParams: map[string]string{"formatType": "CSV"}})
	if err != nil {
		t.Fatal(err)
	}
	got := waitFinal(t, s, a, d.ID, c.ID)
	if got.Status != StatusFailed || got.ErrorCategory != "USER_RECOVERABLE" ||
		!strings.Contains(got.ErrorMessage, "s3://"+wb+"/ingestion/long.csv, line 3") {
		t.Errorf("changeset %s %s %q, want FAILED USER_RECOVERABLE naming the file and line 3", got.Status, got.ErrorCategory, got.ErrorMessage)
	}
	time.Sleep(100 * time.Millisecond) // a retry would have started by now
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if eng.calls != 1 {
		t.Errorf("%d attempts, want 1", eng.calls)
	}
}

// Sources copied into the staging area count against the engine's
// budget, shared with every conversion: a copy that does not fit fails
// the changeset SERVICE_QUOTA_EXCEEDED before anything is copied, and
// the budget is whole again afterwards.
func TestCopiedSourcesCountAgainstStagingBudget(t *testing.T) {
	ctx := context.Background()
	eng := newEngine(t, ingest.Limits{MaxStagedBytes: 2 << 20})
	s, blobs, a, d, _ := newTestService(t, eng, nil, nil)
	wb := blob.WorkingLocationBucket("000000000000", testRegion, testEnv)
	blobs.Put(ctx, wb, "ingestion/big.csv", strings.NewReader("a\n"+strings.Repeat("abcdefg\n", 200_000)), -1)
	held, err := eng.Reserve(1 << 20) // another ingestion's
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateChangeset(ctx, a, d.ID, ChangesetInput{Type: Append,
		SourceParams: map[string]string{"s3SourcePath": "s3://" + wb + "/ingestion/big.csv"},
		FormatParams: map[string]string{"formatType": "CSV"}})
	if err != nil {
		t.Fatal(err)
	}
	got := waitFinal(t, s, a, d.ID, c.ID)
	if got.Status != StatusFailed || got.ErrorCategory != "SERVICE_QUOTA_EXCEEDED" || !strings.Contains(got.ErrorMessage, "shared by every ingestion") {
		t.Errorf("changeset %s %s %q, want FAILED SERVICE_QUOTA_EXCEEDED about the shared budget", got.Status, got.ErrorCategory, got.ErrorMessage)
	}
	held()
	if n := eng.StagedBytes(); n != 0 {
		t.Errorf("%d bytes still counted", n)
	}
	// Within the budget it is ingested.
	c, err = s.CreateChangeset(ctx, a, d.ID, ChangesetInput{Type: Append,
		SourceParams: map[string]string{"s3SourcePath": "s3://" + wb + "/ingestion/big.csv"},
		FormatParams: map[string]string{"formatType": "CSV"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := waitFinal(t, s, a, d.ID, c.ID); got.Status != StatusSuccess || got.Rows != 200_000 {
		t.Errorf("within the budget: %s %d rows %q", got.Status, got.Rows, got.ErrorMessage)
	}
	if n := eng.StagedBytes(); n != 0 {
		t.Errorf("%d bytes still counted after the success", n)
	}
}
