package credstore

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/keyring"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

func newStore(t *testing.T) (*Store, store.Store) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := keyring.LoadOrCreate(filepath.Join(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	return New(db, keys, Options{}), db
}

func TestIssueAndLookup(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	who := auth.Principal{Kind: auth.FinSpaceUser, Account: "000000000000", EnvironmentID: "env", UserID: "u1", ARN: "arn:aws:finspace:us-east-1:000000000000:user/u1"}
	cred, err := s.Issue(ctx, IssueInput{Principal: who, TTL: time.Hour, Group: "user/env/u1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cred.AccessKeyID) != 20 || cred.AccessKeyID[:4] != "ASIA" || len(cred.SecretAccessKey) != 40 || cred.SessionToken == "" {
		t.Fatalf("credential shape: %+v", cred)
	}
	// A fresh store (no cache) finds it, with everything intact.
	s2 := New(db, s.keys, Options{})
	got, err := s2.LookupAccessKey(ctx, cred.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SecretAccessKey != cred.SecretAccessKey || got.SessionToken != cred.SessionToken || got.Principal != who || !got.Expires.Equal(cred.Expires) {
		t.Fatalf("lookup = %+v, want %+v", got, cred)
	}
	if _, err := s2.LookupAccessKey(ctx, "ASIAAAAAAAAAAAAAAAAA"); !errors.Is(err, auth.ErrUnknownAccessKey) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := s2.LookupAccessKey(ctx, "AKIAROOT"); !errors.Is(err, auth.ErrUnknownAccessKey) {
		t.Fatalf("non-temporary key: %v", err)
	}
	// Nothing secret is in the database in clear.
	err = db.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, Kind, cred.AccessKeyID)
		if err != nil {
			return err
		}
		for _, secret := range []string{cred.SecretAccessKey, cred.SessionToken} {
			if bytes.Contains(rec.Data, []byte(secret)) {
				t.Errorf("record holds a secret in clear")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another keyring (a copied database without the key file) cannot open it.
	other, _ := keyring.New(bytes.Repeat([]byte{1}, 32))
	if _, err := New(db, other, Options{}).LookupAccessKey(ctx, cred.AccessKeyID); err == nil {
		t.Fatal("a foreign keyring opened the credential")
	}
}
