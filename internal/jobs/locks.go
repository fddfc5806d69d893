package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/openfinspace/openfinspace/internal/store"
)

// lockDoc is the document of a LockKind record: who holds one exclusive
// key. A holder keeps the key from its first claim until it ends, so the
// record never depends on leases: a holder whose process died is still a
// live job, claimed again once its lease lapses, and still the holder.
type lockDoc struct {
	// Exclusive is the job holding the key exclusively ("" for none).
	Exclusive string `json:"exclusive,omitempty"`
	// Shared are the jobs holding it shared.
	Shared []string `json:"shared,omitempty"`
	// Waiting is a job waiting to hold it exclusively: new shared holders
	// wait behind it (exclusive claims do not, so waiting never forms a
	// cycle).
	Waiting string `json:"waiting,omitempty"`
}

func (l *lockDoc) empty() bool { return l.Exclusive == "" && len(l.Shared) == 0 && l.Waiting == "" }

// lockState is one key's lock record during a claim.
type lockState struct {
	rec     *store.Record
	l       lockDoc
	changed bool
}

// locks reads the lock records of one claim, once per key, dropping
// holders that ended (a job may have been deleted, or finished by a
// version of the engine that did not know locks).
type locks struct {
	tx    store.Tx
	keys  map[string]*lockState
	alive map[string]bool
}

func newLocks(tx store.Tx) *locks {
	return &locks{tx: tx, keys: map[string]*lockState{}, alive: map[string]bool{}}
}

func (ls *locks) live(ctx context.Context, id string) (bool, error) {
	if v, ok := ls.alive[id]; ok {
		return v, nil
	}
	j, err := GetTx(ctx, ls.tx, id)
	if errors.Is(err, store.ErrNotFound) {
		ls.alive[id] = false
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ls.alive[id] = !j.State.Terminal()
	return ls.alive[id], nil
}

func (ls *locks) get(ctx context.Context, key string) (*lockState, error) {
	if st := ls.keys[key]; st != nil {
		return st, nil
	}
	st := &lockState{}
	rec, err := ls.tx.Get(ctx, LockKind, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		st.rec = &store.Record{Kind: LockKind, ID: key, SortKey: key}
	case err != nil:
		return nil, err
	default:
		st.rec = rec
		if err := json.Unmarshal(rec.Data, &st.l); err != nil {
			return nil, err
		}
	}
	// Prune holders that ended.
	if id := st.l.Exclusive; id != "" {
		if ok, err := ls.live(ctx, id); err != nil {
			return nil, err
		} else if !ok {
			st.l.Exclusive, st.changed = "", true
		}
	}
	if id := st.l.Waiting; id != "" {
		if ok, err := ls.live(ctx, id); err != nil {
			return nil, err
		} else if !ok {
			st.l.Waiting, st.changed = "", true
		}
	}
	kept := st.l.Shared[:0]
	for _, id := range st.l.Shared {
		ok, err := ls.live(ctx, id)
		if err != nil {
			return nil, err
		}
		if ok {
			kept = append(kept, id)
		} else {
			st.changed = true
		}
	}
	st.l.Shared = kept
	ls.keys[key] = st
	return st, nil
}

// admit decides whether j may run now under its keys and, if so, makes it
// their holder (all of them or none). A job blocked on a key it wants
// exclusively becomes the key's waiter if it has none; marked reports
// that (a write even though nothing was claimed).
func (ls *locks) admit(ctx context.Context, j *Job) (ok, marked bool, err error) {
	if len(j.Exclusive) == 0 && len(j.Shared) == 0 {
		return true, false, nil
	}
	ok = true
	var blocked []*lockState
	for _, key := range j.Exclusive {
		st, err := ls.get(ctx, key)
		if err != nil {
			return false, false, err
		}
		others := st.l.Exclusive != "" && st.l.Exclusive != j.ID
		for _, id := range st.l.Shared {
			others = others || id != j.ID
		}
		if others {
			ok = false
			blocked = append(blocked, st)
		}
	}
	for _, key := range j.Shared {
		st, err := ls.get(ctx, key)
		if err != nil {
			return false, false, err
		}
		if slices.Contains(st.l.Shared, j.ID) {
			continue
		}
		if (st.l.Exclusive != "" && st.l.Exclusive != j.ID) || (st.l.Waiting != "" && st.l.Waiting != j.ID) {
			ok = false
		}
	}
	if !ok {
		for _, st := range blocked {
			if st.l.Waiting == "" {
				st.l.Waiting, st.changed, marked = j.ID, true, true
			}
		}
		return false, marked, nil
	}
	for _, key := range j.Exclusive {
		st := ls.keys[key]
		if st.l.Exclusive != j.ID {
			st.l.Exclusive, st.changed = j.ID, true
		}
		if st.l.Waiting == j.ID {
			st.l.Waiting, st.changed = "", true
		}
	}
	for _, key := range j.Shared {
		st := ls.keys[key]
		if !slices.Contains(st.l.Shared, j.ID) {
			st.l.Shared, st.changed = append(st.l.Shared, j.ID), true
		}
	}
	return true, false, nil
}

// save writes the lock records the claim changed.
func (ls *locks) save(ctx context.Context) error {
	for _, st := range ls.keys {
		if !st.changed {
			continue
		}
		if err := putLock(ctx, ls.tx, st.rec, &st.l); err != nil {
			return err
		}
	}
	return nil
}

func putLock(ctx context.Context, tx store.Tx, rec *store.Record, l *lockDoc) error {
	if l.empty() {
		if rec.Version == 0 {
			return nil
		}
		return tx.Delete(ctx, LockKind, rec.ID)
	}
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	rec.Data = data
	if rec.Version == 0 {
		return tx.Insert(ctx, rec)
	}
	return tx.Update(ctx, rec)
}

// unlockTx gives up every key j holds or waits for (j has ended).
func unlockTx(ctx context.Context, tx store.Tx, j *Job) error {
	for _, key := range append(slices.Clone(j.Exclusive), j.Shared...) {
		rec, err := tx.Get(ctx, LockKind, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		var l lockDoc
		if err := json.Unmarshal(rec.Data, &l); err != nil {
			return err
		}
		changed := false
		if l.Exclusive == j.ID {
			l.Exclusive, changed = "", true
		}
		if l.Waiting == j.ID {
			l.Waiting, changed = "", true
		}
		if i := slices.Index(l.Shared, j.ID); i >= 0 {
			l.Shared, changed = slices.Delete(l.Shared, i, i+1), true
		}
		if !changed {
			continue
		}
		if err := putLock(ctx, tx, rec, &l); err != nil {
			return err
		}
	}
	return nil
}
