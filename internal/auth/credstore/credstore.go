// Package credstore issues and looks up temporary credentials: FinSpace
// users' programmatic credentials, STS sessions and scoped S3 read keys.
//
// Credentials are records in the metadata store. The secret access key and
// session token must be recoverable (SigV4 verification needs the secret),
// so they are sealed with the keyring, whose key lives outside the database:
// a copy of the database alone hands out no working credential.
package credstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/keyring"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Kind is the store record kind of issued credentials (ID = access key id).
const Kind = "credential"

const sealPurpose = "temporary-credentials"

// ExpiredGrace keeps an expired credential's record long enough to answer
// ExpiredTokenException (rather than UnrecognizedClientException) to a
// client that retries with it.
const ExpiredGrace = 24 * time.Hour

// Store issues and looks up temporary credentials.
type Store struct {
	db   store.Store
	keys *keyring.Keyring
	now  func() time.Time

	mu    sync.Mutex
	cache map[string]*auth.Credential // by access key id; credentials never change
}

// Options tune a credential store; zero values take the defaults.
type Options struct {
	// Now is the clock that stamps issued credentials (default time.Now).
	Now func() time.Time
}

// New returns a credential store over db.
func New(db store.Store, keys *keyring.Keyring, opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, keys: keys, now: now, cache: map[string]*auth.Credential{}}
}

// IssueInput describes a credential to issue.
type IssueInput struct {
	Principal auth.Principal
	TTL       time.Duration
	// Group collects the credentials of one holder (e.g. "user/<env>/<id>")
	// so they can be listed; it is the record's Parent.
	Group string
}

type sealed struct {
	Secret string         `json:"secret"`
	Token  string         `json:"token"`
	Who    auth.Principal `json:"principal"`
}

type doc struct {
	Expires time.Time `json:"expires"`
	Sealed  []byte    `json:"sealed"`
}

const (
	akidAlphabet   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

func random(alphabet string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("credstore: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Issue creates a credential in its own transaction.
func (s *Store) Issue(ctx context.Context, in IssueInput) (*auth.Credential, error) {
	var cred *auth.Credential
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var err error
		cred, err = s.IssueTx(ctx, tx, in)
		return err
	})
	return cred, err
}

// IssueTx creates a credential inside tx. The returned credential carries
// the secret and token in clear: hand them to the client, never log them.
func (s *Store) IssueTx(ctx context.Context, tx store.Tx, in IssueInput) (*auth.Credential, error) {
	if in.TTL <= 0 {
		return nil, errors.New("credstore: TTL must be positive")
	}
	now := s.now().UTC()
	cred := &auth.Credential{
		AccessKeyID:     "ASIA" + random(akidAlphabet, 16),
		SecretAccessKey: random(secretAlphabet, 40),
		SessionToken:    random(secretAlphabet, 200),
		Expires:         now.Add(in.TTL).Truncate(time.Second),
		Principal:       in.Principal,
	}
	plain, err := json.Marshal(sealed{Secret: cred.SecretAccessKey, Token: cred.SessionToken, Who: cred.Principal})
	if err != nil {
		return nil, err
	}
	box, err := s.keys.Seal(sealPurpose, plain, []byte(cred.AccessKeyID))
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(doc{Expires: cred.Expires, Sealed: box})
	if err != nil {
		return nil, err
	}
	rec := &store.Record{Kind: Kind, ID: cred.AccessKeyID, Parent: in.Group, SortKey: cred.Expires.Format(time.RFC3339),
		ExpiresAt: cred.Expires.Add(ExpiredGrace), Data: data}
	if err := tx.Insert(ctx, rec); err != nil {
		return nil, fmt.Errorf("credstore: storing credential: %w", err)
	}
	return cred, nil
}

// LookupAccessKey implements auth.CredentialStore. An expired credential is
// still returned (the verifier answers ExpiredTokenException) until its
// record is removed ExpiredGrace later.
func (s *Store) LookupAccessKey(ctx context.Context, id string) (*auth.Credential, error) {
	if len(id) != 20 || id[:4] != "ASIA" {
		return nil, auth.ErrUnknownAccessKey
	}
	s.mu.Lock()
	c, ok := s.cache[id]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	var rec *store.Record
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		rec, err = tx.Get(ctx, Kind, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, auth.ErrUnknownAccessKey
	}
	if err != nil {
		return nil, err
	}
	var d doc
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, err
	}
	plain, err := s.keys.Open(sealPurpose, d.Sealed, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("credstore: credential %s cannot be opened: %w", id, err)
	}
	var sd sealed
	if err := json.Unmarshal(plain, &sd); err != nil {
		return nil, err
	}
	c = &auth.Credential{AccessKeyID: id, SecretAccessKey: sd.Secret, SessionToken: sd.Token, Expires: d.Expires, Principal: sd.Who}
	s.mu.Lock()
	if len(s.cache) >= 10000 {
		for k := range s.cache { // drop an arbitrary entry; lookups refill
			delete(s.cache, k)
			break
		}
	}
	s.cache[id] = c
	s.mu.Unlock()
	return c, nil
}
