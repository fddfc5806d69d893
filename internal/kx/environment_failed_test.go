package kx

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

// refusingStatus makes every write of a kx environment into one status
// fail (with an error carrying a local path): the step into it fails
// every attempt.
type refusingStatus struct {
	store.Store
	status Status
}

func (r refusingStatus) Update(ctx context.Context, fn func(store.Tx) error) error {
	return r.Store.Update(ctx, func(tx store.Tx) error { return fn(refusingTx{tx, r.status}) })
}

type refusingTx struct {
	store.Tx
	status Status
}

func (t refusingTx) Update(ctx context.Context, rec *store.Record) error {
	if rec.Kind == EnvironmentKind && bytes.Contains(rec.Data, []byte(`"status":"`+string(t.status)+`"`)) {
		return errors.New("write failed at /var/lib/openfinspace/metadata.db")
	}
	return t.Tx.Update(ctx, rec)
}

// TestEnvironmentPhaseFailsForGood: a kx environment whose creation (or
// deletion) step fails every attempt ends FAILED_CREATION (FAILED_DELETION)
// with an errorMessage without the cause's details, not in a transitional
// status for ever; a FAILED_DELETION environment can be deleted again.
func TestEnvironmentPhaseFailsForGood(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse Status
		want   Status
	}{{"creation", Creating, FailedCreation}, {"deletion", Deleting, FailedDeletion}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
				if err != nil {
					t.Fatal(err)
				}
				db := refusingStatus{Store: sq, status: tc.refuse}
				engine, err := jobs.New(jobs.Config{Store: db, Exclusive: true, Poll: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				s := New(Config{Store: db, Jobs: engine, Account: "000000000000", StepDelay: time.Minute})
				if err := engine.Register(s.JobKind()); err != nil {
					t.Fatal(err)
				}
				engine.Start(ctx)
				defer func() { engine.Stop(); sq.Close() }()
				run := func(d time.Duration) {
					for end := time.Now().Add(d); time.Now().Before(end); {
						time.Sleep(time.Minute)
						synctest.Wait()
					}
				}
				env, err := s.CreateEnvironment(ctx, "us-east-1", CreateInput{Name: "e"})
				if err != nil {
					t.Fatal(err)
				}
				if tc.refuse == Deleting {
					run(5 * time.Minute)
					if err := s.DeleteEnvironment(ctx, "us-east-1", env.ID); err != nil {
						t.Fatal(err)
					}
				}
				run(2 * time.Hour) // ten attempts, backoff up to 5 min
				got, err := s.GetEnvironment(ctx, "us-east-1", env.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != tc.want || got.ErrorMessage == "" {
					t.Fatalf("status %s, errorMessage %q; want %s with a message", got.Status, got.ErrorMessage, tc.want)
				}
				if strings.Contains(got.ErrorMessage, "/var/lib") {
					t.Errorf("errorMessage %q carries the cause's local details", got.ErrorMessage)
				}
				if tc.refuse == Deleting {
					if err := s.DeleteEnvironment(ctx, "us-east-1", env.ID); err != nil {
						t.Fatalf("deleting a FAILED_DELETION environment again: %v", err)
					}
					if got, _ := s.GetEnvironment(ctx, "us-east-1", env.ID); got.Status != DeleteRequested {
						t.Fatalf("status %s after deleting again", got.Status)
					}
				}
			})
		})
	}
}
