package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/keyring"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

// fixture is a real store with one CREATED environment and its superuser.
type fixture struct {
	db    store.Store
	svc   *Service
	env   *environment.Environment
	super *Actor
	clock *clock
}

// clock is the service's clock (test double): real time moved by Advance.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := keyring.LoadOrCreate(filepath.Join(dir, "k"))
	clk := &clock{}
	svc := New(Config{Store: db, Credentials: credstore.New(db, keys, credstore.Options{Now: clk.Now}),
		Environments: environment.New(environment.Config{Store: db, Account: "000000000000", Now: clk.Now}),
		Account:      "000000000000", Now: clk.Now})
	env := &environment.Environment{ID: "envaaaaaaaaaaaaaaaaaaa", Region: "us-east-1", Status: environment.Created,
		CreatedAt: time.Now(), Superuser: &environment.Superuser{EmailAddress: "boss@example.com", FirstName: "B", LastName: "Oss"}}
	err = db.Update(ctx, func(tx store.Tx) error {
		data, _ := json.Marshal(env)
		if err := tx.Insert(ctx, &store.Record{Kind: environment.Kind, ID: env.ID, Parent: env.Region, SortKey: "1", Data: data}); err != nil {
			return err
		}
		if err := svc.CreateSuperuserTx(ctx, tx, env); err != nil {
			return err
		}
		return svc.CreateSuperuserTx(ctx, tx, env) // idempotent
	})
	if err != nil {
		t.Fatal(err)
	}
	super, err := svc.ResolveActor(ctx, auth.Caller{Region: "us-east-1", Principal: auth.Principal{Kind: auth.Root}})
	if err != nil {
		t.Fatal(err)
	}
	if !super.IsSuper() || super.User.Email != "boss@example.com" {
		t.Fatalf("root resolves to %+v", super.User)
	}
	return &fixture{db: db, svc: svc, env: env, super: super, clock: clk}
}

// appUser creates an APP_USER in groups with perms and resolves its actor.
func (f *fixture) appUser(t *testing.T, email string, perms ...string) *Actor {
	t.Helper()
	ctx := context.Background()
	u, err := f.svc.CreateUser(ctx, f.super, UserInput{Email: email, Type: ptr(AppUser)})
	if err != nil {
		t.Fatal(err)
	}
	if len(perms) > 0 {
		g, err := f.svc.CreateGroup(ctx, f.super, GroupInput{Name: ptr("g-" + email), Permissions: perms})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Associate(ctx, f.super, g.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	a, err := f.svc.ResolveActor(ctx, auth.Caller{Region: "us-east-1", Principal: auth.Principal{Kind: auth.FinSpaceUser, EnvironmentID: f.env.ID, UserID: u.ID}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ptr(s string) *string { return &s }

func TestApplicationPermissions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	plain := f.appUser(t, "plain@example.com")
	creator := f.appUser(t, "creator@example.com", PermCreateDataset)
	manager := f.appUser(t, "manager@example.com", PermManageUsersAndGroups)

	// CreateDataset: the dataset domain asks Require(PermCreateDataset).
	if err := plain.Require(PermCreateDataset); fault.KindOf(err) != fault.Denied {
		t.Errorf("APP_USER without CreateDataset: %v, want Denied", err)
	}
	if err := creator.Require(PermCreateDataset); err != nil {
		t.Errorf("APP_USER with CreateDataset: %v", err)
	}
	if err := f.super.Require(PermCreateDataset); err != nil {
		t.Errorf("SUPER_USER: %v", err)
	}
	// ManageUsersAndGroups guards user and group operations.
	if _, err := f.svc.CreateUser(ctx, plain, UserInput{Email: "x@example.com", Type: ptr(AppUser)}); fault.KindOf(err) != fault.Denied {
		t.Errorf("CreateUser without ManageUsersAndGroups: %v", err)
	}
	if _, err := f.svc.ListGroups(ctx, creator, nil, 10); fault.KindOf(err) != fault.Denied {
		t.Errorf("ListGroups without ManageUsersAndGroups: %v", err)
	}
	if _, err := f.svc.CreateUser(ctx, manager, UserInput{Email: "y@example.com", Type: ptr(AppUser)}); err != nil {
		t.Errorf("CreateUser with ManageUsersAndGroups: %v", err)
	}
}

func TestDatasetPermissions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reader := f.appUser(t, "reader@example.com", PermAccessNotebooks)
	other := f.appUser(t, "other@example.com", PermAccessNotebooks)
	err := f.db.Update(ctx, func(tx store.Tx) error {
		return GrantDatasetTx(ctx, tx, f.env.ID, "ds1", reader.Groups[0], []string{DatasetViewDetails, DatasetReadData})
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		a       *Actor
		dataset string
		perm    string
		want    bool
	}{
		{reader, "ds1", DatasetReadData, true},
		{reader, "ds1", DatasetDelete, false},
		{reader, "ds2", DatasetReadData, false},
		{other, "ds1", DatasetReadData, false},
		{f.super, "ds1", DatasetDelete, true},
	}
	for _, tc := range cases {
		got, err := f.svc.MayOnDataset(ctx, tc.a, tc.dataset, tc.perm)
		if err != nil || got != tc.want {
			t.Errorf("%s %s %s = %v, %v; want %v", tc.a.User.Email, tc.dataset, tc.perm, got, err, tc.want)
		}
	}
	// Deleting the group drops its grants.
	if err := f.svc.DeleteGroup(ctx, f.super, reader.Groups[0]); err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.ResolveActor(ctx, auth.Caller{Region: "us-east-1", Principal: auth.Principal{Kind: auth.FinSpaceUser, EnvironmentID: f.env.ID, UserID: reader.User.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.MayOnDataset(ctx, again, "ds1", DatasetReadData); got || len(again.Groups) != 0 {
		t.Errorf("after the group is deleted: may=%v groups=%v", got, again.Groups)
	}
}

func TestResetPassword(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.appUser(t, "pw@example.com")
	_, first, err := f.svc.ResetUserPassword(ctx, f.super, u.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.svc.CheckPassword(ctx, f.env.ID, u.User.ID, first); !ok {
		t.Fatal("the temporary password does not match")
	}
	_, second, err := f.svc.ResetUserPassword(ctx, f.super, u.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.svc.CheckPassword(ctx, f.env.ID, u.User.ID, first); ok {
		t.Error("the previous password still works after a reset")
	}
	if ok, _ := f.svc.CheckPassword(ctx, f.env.ID, u.User.ID, second); !ok {
		t.Error("the new password does not match")
	}
	// Only a salted hash is stored, and it expires after 7 days.
	err = f.db.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, KindUser, u.User.ID)
		if err != nil {
			return err
		}
		if bytes.Contains(rec.Data, []byte(second)) {
			t.Error("the password is stored in clear")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(8 * 24 * time.Hour)
	if ok, _ := f.svc.CheckPassword(ctx, f.env.ID, u.User.ID, second); ok {
		t.Error("the temporary password works after 8 days")
	}
}

func TestDisabledUserRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.appUser(t, "gone@example.com", PermGetTemporaryCredentials)
	if _, err := f.svc.DisableUser(ctx, f.super, u.User.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.ResolveActor(ctx, auth.Caller{Region: "us-east-1", Principal: auth.Principal{Kind: auth.FinSpaceUser, EnvironmentID: f.env.ID, UserID: u.User.ID}})
	if fault.KindOf(err) != fault.Denied {
		t.Errorf("disabled user's credentials: %v, want Denied", err)
	}
	_, err = f.svc.ResolveActor(ctx, auth.Caller{Region: "eu-west-1", Principal: auth.Principal{Kind: auth.FinSpaceUser, EnvironmentID: f.env.ID, UserID: f.super.User.ID}})
	if fault.KindOf(err) != fault.Denied {
		t.Errorf("credentials used in another region: %v, want Denied", err)
	}
}
