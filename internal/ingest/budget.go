package ingest

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
)

// stagingBudget is the one budget of bytes written into the staging area
// that every conversion of an Engine (and, through Reserve, whoever stages
// sources for it) shares. A bz2 source of a few kilobytes can decompress to
// gigabytes: the budget counts the decompressed bytes as they are written,
// and the free space of the staging file system is checked as they grow,
// so that the disk keeps Limits.MinFreeBytes for everything else.
type stagingBudget struct {
	limit   int64 // bytes staged at once, all conversions together
	minFree int64 // free bytes the staging file system keeps
	dir     string
	free    func(dir string) (int64, bool)
	used    atomic.Int64
}

// freeCheckEvery is how many staged bytes pass between two checks of the
// file system's free space.
const freeCheckEvery = 64 << 20

// take counts n more bytes against the budget; it fails (and counts
// nothing) when they do not fit, or when writing them would leave the
// staging file system with less than its reserve.
func (b *stagingBudget) take(n int64, checkFree bool) error {
	if n <= 0 {
		return nil
	}
	if u := b.used.Add(n); u > b.limit {
		b.used.Add(-n)
		return &LimitError{Msg: fmt.Sprintf("the staging area's budget of %d bytes, shared by every ingestion running on this server, is spent (%d in use); ingest the files in smaller changesets, or when fewer run at once",
			b.limit, u-n)}
	}
	if checkFree {
		if free, ok := b.free(b.dir); ok && free-n < b.minFree {
			b.used.Add(-n)
			return &LimitError{Msg: fmt.Sprintf("the staging area's disk has %d bytes free and keeps %d in reserve; free space there, or ingest the files in smaller changesets",
				max(free, 0), b.minFree)}
		}
	}
	return nil
}

func (b *stagingBudget) give(n int64) { b.used.Add(-n) }

// Reserve counts n bytes against the staging budget the Engine's
// conversions share, for a caller that stages sources itself (copies from
// an external store). It fails with a *LimitError (SERVICE_QUOTA_EXCEEDED)
// when they do not fit or the disk would fall below its reserve. release
// gives them back; call it once the staged files are gone.
func (e *Engine) Reserve(n int64) (release func(), err error) {
	if err := e.budget.take(n, true); err != nil {
		return nil, err
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			e.budget.give(n)
		}
	}, nil
}

// StagedBytes is what the staging budget counts in use now (tests, metrics).
func (e *Engine) StagedBytes() int64 { return e.budget.used.Load() }

// budgetReader counts what one conversion stages against the shared
// budget as it is read (taken, which the conversion gives back when its
// staging directory is gone), and stops the copy when the budget is spent,
// the disk's reserve is reached or ctx ends.
type budgetReader struct {
	ctx     context.Context
	r       io.Reader
	b       *stagingBudget
	taken   int64 // counted against b
	unCheck int64 // bytes since the last free-space check
}

func (r *budgetReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(p)
	if n > 0 {
		r.unCheck += int64(n)
		check := r.unCheck >= freeCheckEvery || r.taken == 0
		if lerr := r.b.take(int64(n), check); lerr != nil {
			return 0, lerr
		}
		if check {
			r.unCheck = 0
		}
		r.taken += int64(n)
	}
	return n, err
}
