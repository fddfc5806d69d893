// Package identity implements FinSpace Data users, permission groups and
// their memberships, programmatic credentials, and the permission model:
// which environment and user a request acts as, and what that user may do.
// Other domains (datasets, data views) only ask "may this actor do X".
package identity

import (
	"context"
	"slices"
	"strings"
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

// Clone returns a deep copy of u.
func (u *User) Clone() *User {
	c := *u
	c.Password = u.Password.clone()
	return &c
}

// Clone returns a deep copy of g.
func (g *Group) Clone() *Group {
	c := *g
	c.Permissions = slices.Clone(g.Permissions)
	return &c
}

// Service implements the identity operations.
type Service struct {
	db      store.Store
	creds   *credstore.Store
	envs    Environments
	account string
	now     func() time.Time
	tokens  ClientTokens
	tables
	// states reads users' status for Live, which runs on every request a
	// FinSpace user's credentials sign.
	states *store.Projection[userState]
}

// userState is the part of a user document Live reads.
type userState struct {
	Status string `json:"status"`
}

// Config builds a Service.
type Config struct {
	Store store.Store
	// Credentials issues programmatic access credentials.
	Credentials  *credstore.Store
	Environments Environments
	Account      string
	// Tokens marks client tokens carried out (*idempotency.Tokens); nil
	// marks none (for callers that send no client tokens).
	Tokens ClientTokens
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ClientTokens marks the client token of the request ctx belongs to as
// carried out, inside the transaction that commits the operation's effects
// (*idempotency.Tokens). Every operation whose request has a clientToken
// member calls it in its last write transaction.
type ClientTokens interface {
	CommitTx(ctx context.Context, tx store.Tx) error
}

type noTokens struct{}

func (noTokens) CommitTx(context.Context, store.Tx) error { return nil }

// New returns the identity service.
func New(cfg Config) *Service {
	t := newTables(0)
	s := &Service{db: cfg.Store, creds: cfg.Credentials, envs: cfg.Environments, account: cfg.Account,
		now: cfg.Now, tokens: cfg.Tokens, tables: t, states: store.NewProjection[userState](t.users, nil)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tokens == nil {
		s.tokens = noTokens{}
	}
	return s
}

// Environments reads environments' states inside a transaction
// (*environment.Service).
type Environments interface {
	StateTx(ctx context.Context, tx store.Tx, region, id string) (environment.State, error)
	ListStatesTx(ctx context.Context, tx store.Tx, region string, limit int) ([]environment.State, error)
}

// tables are the identity records:
//
//	users     KindUser: ID user id, Parent environment id; unique email
//	          (KindEmail, ID "<env>/<lower email>")
//	groups    KindGroup: ID group id, Parent environment id
//	byGroup   KindMemberGroup: ID "<group>/<user>", Parent group id
//	byUser    KindMemberUser: ID "<user>/<group>", Parent user id
//	grants    KindDatasetPerm: ID "<dataset>/<group>", Parent group id
type tables struct {
	users           *store.Table[User, *User]
	groups          *store.Table[Group, *Group]
	byGroup, byUser *store.Table[Membership, *Membership]
	grants          *store.Table[datasetGrant, *datasetGrant]
}

// uncached serves GrantDatasetTx, called inside other domains'
// transactions: without caches, so that it holds no state.
var uncached = newTables(store.NoCache)

func newTables(cacheMax int) tables {
	return tables{
		users: store.NewTable(store.TableDef[User, *User]{Kind: KindUser, CacheMax: cacheMax,
			ID:      func(u *User) string { return u.ID },
			Parent:  func(u *User) string { return u.EnvironmentID },
			SortKey: func(u *User) string { return sortKey(u.CreatedAt, u.ID) },
			Unique: []store.UniqueKey[*User]{{Name: "email", // KindEmail
				Of: func(u *User) string { return strings.ToLower(u.Email) },
				Taken: func(*User) error {
					return fault.Conflictf("A user with this email address already exists in the environment.")
				}}},
			NotFound: func(id string) error { return notFound("The user %s does not exist.", id) },
			Conflict: func(id string) error {
				return fault.Conflictf("The user %s was changed by another request; retry.", id)
			},
		}),
		groups: store.NewTable(store.TableDef[Group, *Group]{Kind: KindGroup, CacheMax: cacheMax,
			ID:       func(g *Group) string { return g.ID },
			Parent:   func(g *Group) string { return g.EnvironmentID },
			SortKey:  func(g *Group) string { return sortKey(g.CreatedAt, g.ID) },
			NotFound: func(id string) error { return notFound("The permission group %s does not exist.", id) },
			Conflict: func(id string) error {
				return fault.Conflictf("The permission group %s was changed by another request; retry.", id)
			},
		}),
		byGroup: store.NewTable(store.TableDef[Membership, *Membership]{Kind: KindMemberGroup, CacheMax: cacheMax,
			ID:      func(m *Membership) string { return m.GroupID + "/" + m.UserID },
			Parent:  func(m *Membership) string { return m.GroupID },
			SortKey: func(m *Membership) string { return m.UserID },
		}),
		byUser: store.NewTable(store.TableDef[Membership, *Membership]{Kind: KindMemberUser, CacheMax: cacheMax,
			ID:      func(m *Membership) string { return m.UserID + "/" + m.GroupID },
			Parent:  func(m *Membership) string { return m.UserID },
			SortKey: func(m *Membership) string { return m.GroupID },
		}),
		grants: store.NewTable(store.TableDef[datasetGrant, *datasetGrant]{Kind: KindDatasetPerm, CacheMax: cacheMax,
			ID:     func(g *datasetGrant) string { return g.dataset + "/" + g.group },
			Parent: func(g *datasetGrant) string { return g.group },
			// The document holds the permissions; the ID says whose.
			FromID: func(id string, g *datasetGrant) {
				i := strings.LastIndexByte(id, '/')
				g.dataset, g.group = id[:max(i, 0)], id[i+1:]
			},
		}),
	}
}

// notFound is a NotFound fault that is also store.ErrNotFound.
func notFound(format, id string) error {
	f := fault.NotFoundf(format, id)
	f.Err = store.ErrNotFound
	return f
}

func sortKey(t time.Time, id string) string {
	return t.UTC().Format("20060102T150405.000000000Z") + "/" + id
}
