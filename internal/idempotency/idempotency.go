// Package idempotency remembers the responses of requests that carry a
// client token, so a retry with the same token and input gets the same
// response and creates nothing twice. Records live in the durable store;
// responses are sealed with the keyring because some carry secrets.
//
// A request's claim is recorded before the operation runs and its response
// after; a crash in between would leave a claim that a retry takes over once
// it is stale, running the operation again. To make that safe, an operation
// with a client token calls [Tokens.CommitTx] inside the transaction that
// commits its effects — its last write transaction — which marks the claim
// as carried out in that same transaction: the effects and the mark commit
// together or not at all. A retry of a carried-out claim whose response was
// never saved is refused with a ConflictException instead of being run
// twice; a request that failed before its commit left no mark, so a retry
// runs it again.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/openfinspace/openfinspace/internal/clienttoken"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/keyring"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Kind is the store record kind of idempotency records.
const Kind = "idempotency"

const sealPurpose = "idempotency-responses"

// Options tune the token memory; zero values take the defaults.
type Options struct {
	// Now is the clock of claims and their expiry (default time.Now).
	Now func() time.Time
	// Window is how long a token is remembered (default 10 minutes, as AWS).
	Window time.Duration
	// StaleAfter is when an unfinished claim (its process died mid-request)
	// may be taken over by a retry (default 1 minute).
	StaleAfter time.Duration
	// Wait is how long a duplicate waits for an in-flight first request
	// (default 5 s). It is measured with the time package's timers, so a
	// test under testing/synctest sees it pass on its fake clock.
	Wait time.Duration
}

// Tokens implements the wire runtime's Idempotency (restjson) over a store.Store.
type Tokens struct {
	db   store.Store
	keys *keyring.Keyring
	now  func() time.Time

	window, staleAfter, wait time.Duration
}

// New returns token memory over db.
func New(db store.Store, keys *keyring.Keyring, opts Options) *Tokens {
	t := &Tokens{db: db, keys: keys, now: opts.Now,
		window: opts.Window, staleAfter: opts.StaleAfter, wait: opts.Wait}
	if t.now == nil {
		t.now = time.Now
	}
	if t.window <= 0 {
		t.window = 10 * time.Minute
	}
	if t.staleAfter <= 0 {
		t.staleAfter = time.Minute
	}
	if t.wait <= 0 {
		t.wait = 5 * time.Second
	}
	return t
}

type doc struct {
	Hash string `json:"hash"`
	Done bool   `json:"done"`
	// CarriedOut: the operation committed its effects (CommitTx).
	CarriedOut bool      `json:"carriedOut,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	Response   []byte    `json:"response,omitempty"` // sealed clienttoken.Response
}

func recordID(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}

var (
	errInFlight = errors.New("idempotency: request in flight")
	errLost     = fault.Conflictf("The request with this client token took effect, but the server stopped before " +
		"it could record the response. Check the resource, and use a new client token to send another request.")
)

// Begin implements the wire runtime's Idempotency (restjson).
func (t *Tokens) Begin(ctx context.Context, key, inputHash string) (*clienttoken.Response, error) {
	id := recordID(key)
	deadline := time.NewTimer(t.wait)
	defer deadline.Stop()
	for {
		resp, err := t.begin(ctx, id, inputHash)
		if !errors.Is(err, errInFlight) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fault.Conflictf("A request with the same client token is still in progress.")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (t *Tokens) begin(ctx context.Context, id, inputHash string) (*clienttoken.Response, error) {
	var replay *clienttoken.Response
	err := t.db.Update(ctx, func(tx store.Tx) error {
		replay = nil
		now := t.now()
		fresh := doc{Hash: inputHash, StartedAt: now}
		rec, err := tx.Get(ctx, Kind, id)
		if errors.Is(err, store.ErrNotFound) {
			return tx.Insert(ctx, t.record(id, fresh, now))
		}
		if err != nil {
			return err
		}
		if !rec.ExpiresAt.IsZero() && now.After(rec.ExpiresAt) {
			next := t.record(id, fresh, now)
			next.Version = rec.Version
			return tx.Update(ctx, next)
		}
		var d doc
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return err
		}
		if d.Hash != inputHash {
			return fault.Conflictf("The client token was already used with different request parameters.")
		}
		if d.Done {
			plain, err := t.keys.Open(sealPurpose, d.Response, []byte(id))
			if err != nil {
				return err
			}
			var sr clienttoken.Response
			if err := json.Unmarshal(plain, &sr); err != nil {
				return err
			}
			replay = &sr
			return nil
		}
		if now.Sub(d.StartedAt) > t.staleAfter {
			if d.CarriedOut {
				return errLost
			}
			d.StartedAt = now
			rec.Data, _ = json.Marshal(d)
			return tx.Update(ctx, rec)
		}
		return errInFlight
	})
	return replay, err
}

func (t *Tokens) record(id string, d doc, now time.Time) *store.Record {
	data, _ := json.Marshal(d)
	return &store.Record{Kind: Kind, ID: id, SortKey: id, ExpiresAt: now.Add(t.window), Data: data}
}

// Complete implements the wire runtime's Idempotency (restjson).
func (t *Tokens) Complete(ctx context.Context, key string, resp clienttoken.Response) error {
	id := recordID(key)
	plain, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	sealed, err := t.keys.Seal(sealPurpose, plain, []byte(id))
	if err != nil {
		return err
	}
	return t.db.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, Kind, id)
		if err != nil {
			return err
		}
		var d doc
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return err
		}
		d.Done, d.Response = true, sealed
		rec.Data, _ = json.Marshal(d)
		return tx.Update(ctx, rec)
	})
}

// Abort implements the wire runtime's Idempotency (restjson): a failed request leaves no claim,
// so a retry runs again; unless it took effect before failing, in which
// case retries are refused (errLost) at once rather than run twice.
func (t *Tokens) Abort(ctx context.Context, key string) {
	id := recordID(key)
	_ = t.db.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, Kind, id)
		if err != nil {
			return err
		}
		var d doc
		if err := json.Unmarshal(rec.Data, &d); err != nil || d.Done {
			return err
		}
		if d.CarriedOut {
			d.StartedAt = time.Time{}
			rec.Data, _ = json.Marshal(d)
			return tx.Update(ctx, rec)
		}
		return tx.Delete(ctx, Kind, id)
	})
}

// CommitTx marks, inside tx, the claim of the request ctx belongs to as
// carried out. An operation with a client token calls it in the
// transaction that commits its effects — the last one it writes in, so
// that a failure in an earlier one still lets a retry run it again (see
// the package comment). A request without a client token, or whose claim
// is gone (its window expired, or another store holds it), marks nothing.
// Calling it again in a later transaction of the same request does nothing.
func (t *Tokens) CommitTx(ctx context.Context, tx store.Tx) error {
	key := clienttoken.Key(ctx)
	if key == "" {
		return nil
	}
	rec, err := tx.Get(ctx, Kind, recordID(key))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var d doc
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return err
	}
	if d.CarriedOut || d.Done {
		return nil
	}
	d.CarriedOut = true
	rec.Data, _ = json.Marshal(d)
	return tx.Update(ctx, rec)
}
