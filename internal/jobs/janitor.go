package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
)

// JanitorKind is the periodic kind that removes expired records
// (idempotency tokens, temporary credentials, finished jobs).
const JanitorKind = "janitor"

// Janitor returns the periodic kind that calls db.DeleteExpired once per
// period (default a minute) across every process sharing db, instead of a
// ticker in each of them. now is the server's clock (nil: time.Now).
func Janitor(db store.Store, period time.Duration, now func() time.Time, log *slog.Logger) *Kind {
	if period <= 0 {
		period = time.Minute
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Kind{Name: JanitorKind, Workers: 1, Period: period, MaxAttempts: 1,
		Handler: HandlerFunc(func(ctx context.Context, r *Run) (Result, error) {
			n, err := db.DeleteExpired(ctx, now())
			if err != nil {
				log.Error("deleting expired records", "error", err)
				return Result{}, err
			}
			if n > 0 {
				log.Debug("deleted expired records", "count", n)
			}
			return Result{}, nil
		})}
}
