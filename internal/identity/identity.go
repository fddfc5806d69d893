// Package identity implements FinSpace Data users, permission groups and
// their memberships, programmatic credentials, and the permission model:
// which environment and user a request acts as, and what that user may do.
// Other domains (datasets, data views) only ask "may this actor do X".
package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Record kinds.
const (
	KindUser        = "fsuser"          // ID user id, Parent environment id
	KindEmail       = "fsuser-email"    // ID "<env>/<lower email>": uniqueness claim
	KindGroup       = "fsgroup"         // ID group id, Parent environment id
	KindMemberGroup = "fsmember-group"  // ID "<group>/<user>", Parent group id
	KindMemberUser  = "fsmember-user"   // ID "<user>/<group>", Parent user id
	KindDatasetPerm = "fsdataset-grant" // ID "<dataset>/<group>", Parent group id
)

// UserType values.
const (
	SuperUser = "SUPER_USER"
	AppUser   = "APP_USER"
)

// UserStatus values.
const (
	StatusEnabled  = "ENABLED"
	StatusDisabled = "DISABLED"
)

// ApiAccess values.
const (
	APIAccessEnabled  = "ENABLED"
	APIAccessDisabled = "DISABLED"
)

// Application permissions.
const (
	PermCreateDataset           = "CreateDataset"
	PermManageClusters          = "ManageClusters"
	PermManageUsersAndGroups    = "ManageUsersAndGroups"
	PermManageAttributeSets     = "ManageAttributeSets"
	PermViewAuditData           = "ViewAuditData"
	PermAccessNotebooks         = "AccessNotebooks"
	PermGetTemporaryCredentials = "GetTemporaryCredentials"
)

// Dataset permissions (granted to groups per dataset).
const (
	DatasetViewDetails  = "ViewDatasetDetails"
	DatasetReadData     = "ReadDatasetData"
	DatasetAddData      = "AddDatasetData"
	DatasetCreateView   = "CreateDataView"
	DatasetEditMetadata = "EditDatasetMetadata"
	DatasetDelete       = "DeleteDataset"
)

// MembershipSuccess is the membership status once a user is in a group.
const MembershipSuccess = "ADDITION_SUCCESS"

// User is the stored document of one FinSpace user.
type User struct {
	ID                    string    `json:"id"`
	EnvironmentID         string    `json:"environmentId"`
	Email                 string    `json:"email"`
	Type                  string    `json:"type"`
	FirstName             string    `json:"firstName,omitempty"`
	LastName              string    `json:"lastName,omitempty"`
	Status                string    `json:"status"`
	APIAccess             string    `json:"apiAccess"`
	APIAccessPrincipalARN string    `json:"apiAccessPrincipalArn,omitempty"`
	CreatedAt             time.Time `json:"createdAt"`
	ModifiedAt            time.Time `json:"modifiedAt"`
	EnabledAt             time.Time `json:"enabledAt"`
	DisabledAt            time.Time `json:"disabledAt,omitzero"`
	LastLoginAt           time.Time `json:"lastLoginAt,omitzero"`
	Password              *Password `json:"password,omitempty"`
}

// Group is the stored document of one permission group.
type Group struct {
	ID            string    `json:"id"`
	EnvironmentID string    `json:"environmentId"`
	Name          string    `json:"name"`
	Description   string    `json:"description,omitempty"`
	Permissions   []string  `json:"permissions"`
	CreatedAt     time.Time `json:"createdAt"`
	ModifiedAt    time.Time `json:"modifiedAt"`
}

// Service implements the identity operations.
type Service struct {
	db      store.Store
	creds   *credstore.Store
	envs    Environments
	account string
	Now     func() time.Time
	// states caches users' status for Live, which runs on every request a
	// FinSpace user's credentials sign.
	states *store.Decoded[userState]
}

// userState is the part of a user document Live reads (immutable).
type userState struct {
	Status string `json:"status"`
}

// New returns the identity service.
func New(db store.Store, creds *credstore.Store, envs Environments, account string) *Service {
	return &Service{db: db, creds: creds, envs: envs, account: account, Now: time.Now,
		states: &store.Decoded[userState]{Decode: func(data []byte) (userState, error) {
			var st userState
			return st, json.Unmarshal(data, &st)
		}}}
}

// Environments reads environments inside a transaction
// (*environment.Service); what it returns is shared and read only.
type Environments interface {
	ReadTx(ctx context.Context, tx store.Tx, region, id string) (*environment.Environment, error)
	ListReadTx(ctx context.Context, tx store.Tx, region string, limit int) ([]*environment.Environment, error)
}

func sortKey(t time.Time, id string) string {
	return t.UTC().Format("20060102T150405.000000000Z") + "/" + id
}

func put(ctx context.Context, tx store.Tx, rec *store.Record, v any, insert bool) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rec.Data = data
	if insert {
		return tx.Insert(ctx, rec)
	}
	return tx.Update(ctx, rec)
}

func getDoc[T any](ctx context.Context, tx store.Tx, kind, id string) (*T, *store.Record, error) {
	rec, err := tx.Get(ctx, kind, id)
	if err != nil {
		return nil, nil, err
	}
	var v T
	if err := json.Unmarshal(rec.Data, &v); err != nil {
		return nil, nil, fmt.Errorf("decoding %s %s: %w", kind, id, err)
	}
	return &v, rec, nil
}

// userTx reads a user of env; users of other environments are not found.
func userTx(ctx context.Context, tx store.Tx, env, id string) (*User, *store.Record, error) {
	u, rec, err := getDoc[User](ctx, tx, KindUser, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.Parent != env) {
		return nil, nil, fault.NotFoundf("The user %s does not exist.", id)
	}
	return u, rec, err
}

// groupTx reads a permission group of env.
func groupTx(ctx context.Context, tx store.Tx, env, id string) (*Group, *store.Record, error) {
	g, rec, err := getDoc[Group](ctx, tx, KindGroup, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.Parent != env) {
		return nil, nil, fault.NotFoundf("The permission group %s does not exist.", id)
	}
	return g, rec, err
}

// Page is one page of a listing with the cursor of the next.
type Page[T any] struct {
	Items []T
	Next  *store.Cursor
}

func listPage[T any](ctx context.Context, tx store.Tx, q store.Query, limit int, load func(*store.Record) (T, error)) (Page[T], error) {
	var page Page[T]
	q.Limit = limit + 1
	recs, err := tx.List(ctx, q)
	if err != nil {
		return page, err
	}
	if len(recs) > limit {
		recs = recs[:limit]
		last := recs[limit-1]
		page.Next = &store.Cursor{SortKey: last.SortKey, ID: last.ID}
	}
	for _, rec := range recs {
		v, err := load(rec)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, v)
	}
	return page, nil
}
