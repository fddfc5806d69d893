// Package environment implements FinSpace (Dataset Browser) environments:
// their records, status machine and asynchronous lifecycle.
package environment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/tagging"
)

// Kind is the store record kind of environments (Parent = region).
const Kind = "environment"

// FederationMode values.
const (
	FederationFederated = "FEDERATED"
	FederationLocal     = "LOCAL"
)

// Federation is the SAML federation configuration of an environment.
type Federation struct {
	SamlMetadataDocument   string            `json:"samlMetadataDocument,omitempty"`
	SamlMetadataURL        string            `json:"samlMetadataURL,omitempty"`
	ApplicationCallBackURL string            `json:"applicationCallBackURL,omitempty"`
	FederationURN          string            `json:"federationURN,omitempty"`
	FederationProviderName string            `json:"federationProviderName,omitempty"`
	AttributeMap           map[string]string `json:"attributeMap,omitempty"`
}

// Superuser is the first user of an environment, created as a SUPER_USER
// by the identity domain.
type Superuser struct {
	EmailAddress string `json:"emailAddress"`
	FirstName    string `json:"firstName"`
	LastName     string `json:"lastName"`
}

// Environment is the stored document of one environment.
type Environment struct {
	ID             string      `json:"id"`
	Name           string      `json:"name"`
	Description    string      `json:"description,omitempty"`
	KmsKeyID       string      `json:"kmsKeyId,omitempty"`
	Region         string      `json:"region"`
	Account        string      `json:"account"`
	ARN            string      `json:"arn"`
	URL            string      `json:"url"`
	Status         Status      `json:"status"`
	FederationMode string      `json:"federationMode"`
	Federation     *Federation `json:"federation,omitempty"`
	Superuser      *Superuser  `json:"superuser,omitempty"`
	DataBundles    []string    `json:"dataBundles,omitempty"`
	CreatedAt      time.Time   `json:"createdAt"`
	UpdatedAt      time.Time   `json:"updatedAt"`
	// NextStepAt is when the reconciler takes the next step.
	NextStepAt time.Time `json:"nextStepAt"`
}

// CreateInput is what CreateEnvironment asks for.
type CreateInput struct {
	Name, Description, KmsKeyID string
	FederationMode              string
	Federation                  *Federation
	Superuser                   *Superuser
	DataBundles                 []string
	Tags                        map[string]string
}

// UpdateInput is what UpdateEnvironment may change; nil leaves a field.
type UpdateInput struct {
	Name, Description, FederationMode *string
	Federation                        *Federation
}

// Enqueuer schedules reconcile steps (lifecycle.Runner).
type Enqueuer interface{ Enqueue(kind, id string) }

// Service implements the environment operations.
type Service struct {
	db      store.Store
	runner  Enqueuer
	account string
	baseURL func() string
	// StepDelay is the pause between lifecycle steps (CREATE_REQUESTED →
	// CREATING → CREATED takes two steps).
	StepDelay time.Duration
	Now       func() time.Time
	// OnCreated runs inside the transaction that moves an environment to
	// CREATED (the identity domain creates the superuser there).
	OnCreated []CreatedHook

	// docs holds decoded documents for the read-only paths (Get, List,
	// Exists); its values are shared and never changed.
	docs *store.Decoded[*Environment]
}

// CreatedHook is called in the transaction that makes env CREATED.
type CreatedHook func(ctx context.Context, tx store.Tx, env *Environment) error

// New returns the environment service. baseURL returns this server's public
// URL (known once it listens), used for environmentUrl.
func New(db store.Store, runner Enqueuer, account string, baseURL func() string) *Service {
	return &Service{db: db, runner: runner, account: account, baseURL: baseURL,
		StepDelay: 400 * time.Millisecond, Now: time.Now,
		docs: &store.Decoded[*Environment]{Decode: decodeData}}
}

// ARN returns the ARN of environment id in region.
func (s *Service) ARN(region, id string) string {
	return fmt.Sprintf("arn:aws:finspace:%s:%s:environment/%s", region, s.account, id)
}

func validateFederation(mode string, fed *Federation) error {
	switch mode {
	case FederationFederated:
		if fed == nil || (fed.SamlMetadataDocument == "" && fed.SamlMetadataURL == "") {
			return fault.Invalidf("federationMode FEDERATED requires federationParameters with samlMetadataDocument or samlMetadataURL.")
		}
	case FederationLocal:
		if fed != nil {
			return fault.Invalidf("federationParameters can only be set when federationMode is FEDERATED.")
		}
	}
	return nil
}

// Create records a new environment in CREATE_REQUESTED and schedules its
// creation.
func (s *Service) Create(ctx context.Context, region string, in CreateInput) (*Environment, error) {
	mode := in.FederationMode
	if mode == "" {
		mode = FederationLocal
		if in.Federation != nil {
			mode = FederationFederated
		}
	}
	if err := validateFederation(mode, in.Federation); err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	id := ids.EnvironmentID()
	env := &Environment{
		ID: id, Name: in.Name, Description: in.Description, KmsKeyID: in.KmsKeyID,
		Region: region, Account: s.account, ARN: s.ARN(region, id),
		URL:    strings.TrimSuffix(s.baseURL(), "/") + "/environments/" + id,
		Status: CreateRequested, FederationMode: mode, Federation: in.Federation,
		Superuser: in.Superuser, DataBundles: in.DataBundles,
		CreatedAt: now, UpdatedAt: now, NextStepAt: now.Add(s.StepDelay),
	}
	err := s.db.Update(ctx, func(tx store.Tx) error {
		rec, err := record(env)
		if err != nil {
			return err
		}
		if err := tx.Insert(ctx, rec); err != nil {
			return err
		}
		return tagging.PutTx(ctx, tx, env.ARN, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	s.runner.Enqueue(Kind, id)
	return env, nil
}

func record(env *Environment) (*store.Record, error) {
	data, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	return &store.Record{
		Kind: Kind, ID: env.ID, Parent: env.Region,
		SortKey: env.CreatedAt.UTC().Format("20060102T150405.000000000Z"),
		Pending: !env.Status.terminal(), Data: data,
	}, nil
}

func decode(rec *store.Record) (*Environment, error) {
	env, err := decodeData(rec.Data)
	if err != nil {
		return nil, fmt.Errorf("decoding environment %s: %w", rec.ID, err)
	}
	return env, nil
}

func decodeData(data []byte) (*Environment, error) {
	var env Environment
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, err
	}
	return &env, nil
}

// cached returns the decoded document of rec from the service's cache: a
// shared value, to be read only.
func (s *Service) cached(rec *store.Record) (*Environment, error) {
	env, err := s.docs.Get(rec)
	if err != nil {
		return nil, fmt.Errorf("decoding environment %s: %w", rec.ID, err)
	}
	return env, nil
}

// Clone returns a deep copy of e.
func (e *Environment) Clone() *Environment {
	c := *e
	if e.Federation != nil {
		f := *e.Federation
		f.AttributeMap = maps.Clone(e.Federation.AttributeMap)
		c.Federation = &f
	}
	if e.Superuser != nil {
		su := *e.Superuser
		c.Superuser = &su
	}
	c.DataBundles = slices.Clone(e.DataBundles)
	return &c
}

// getTx reads environment id of region; other regions' environments are
// not visible, as in AWS.
func getTx(ctx context.Context, tx store.Tx, region, id string) (*Environment, *store.Record, error) {
	rec, err := getRecordTx(ctx, tx, region, id)
	if err != nil {
		return nil, nil, err
	}
	env, err := decode(rec)
	return env, rec, err
}

func getRecordTx(ctx context.Context, tx store.Tx, region, id string) (*store.Record, error) {
	rec, err := tx.Get(ctx, Kind, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.Parent != region) {
		return nil, fault.NotFoundf("The environment %s does not exist.", id)
	}
	return rec, err
}

// Get returns environment id.
func (s *Service) Get(ctx context.Context, region, id string) (*Environment, error) {
	var env *Environment
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		env, err = s.ReadTx(ctx, tx, region, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return env.Clone(), nil
}

// List returns one page of the region's environments, oldest first.
func (s *Service) List(ctx context.Context, region string, after *store.Cursor, limit int) (paging.Page[*Environment], error) {
	var page paging.Page[*Environment]
	err := s.db.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(ctx, store.Query{Kind: Kind, Parent: region, After: after, Limit: limit + 1})
		if err != nil {
			return err
		}
		if len(recs) > limit {
			recs = recs[:limit]
			last := recs[limit-1]
			page.Next = &store.Cursor{SortKey: last.SortKey, ID: last.ID}
		}
		shared, err := s.cachedAll(recs)
		for _, env := range shared {
			page.Items = append(page.Items, env.Clone())
		}
		return err
	})
	return page, err
}

// Update changes name, description or federation settings.
func (s *Service) Update(ctx context.Context, region, id string, in UpdateInput) (*Environment, error) {
	var env *Environment
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var rec *store.Record
		var err error
		env, rec, err = getTx(ctx, tx, region, id)
		if err != nil {
			return err
		}
		if env.Status.deleting() {
			return fault.Invalidf("The Environment is in %s state and cannot be updated.", env.Status)
		}
		if in.Name != nil {
			env.Name = *in.Name
		}
		if in.Description != nil {
			env.Description = *in.Description
		}
		mode, fed := env.FederationMode, env.Federation
		if in.FederationMode != nil {
			mode = *in.FederationMode
			if mode == FederationLocal {
				fed = nil
			}
		}
		if in.Federation != nil {
			fed = in.Federation
		}
		if err := validateFederation(mode, fed); err != nil {
			return err
		}
		env.FederationMode, env.Federation = mode, fed
		env.UpdatedAt = s.Now().UTC()
		next, err := record(env)
		if err != nil {
			return err
		}
		next.Version = rec.Version
		return tx.Update(ctx, next)
	})
	return env, err
}

// Delete moves the environment to DELETE_REQUESTED and schedules deletion.
func (s *Service) Delete(ctx context.Context, region, id string) error {
	err := s.db.Update(ctx, func(tx store.Tx) error {
		env, rec, err := getTx(ctx, tx, region, id)
		if err != nil {
			return err
		}
		if env.Status.deleting() {
			return fault.Invalidf("The Environment is in %s state.", env.Status)
		}
		if err := env.moveTo(DeleteRequested); err != nil {
			return err
		}
		now := s.Now().UTC()
		env.UpdatedAt, env.NextStepAt = now, now.Add(s.StepDelay)
		next, err := record(env)
		if err != nil {
			return err
		}
		next.Version = rec.Version
		return tx.Update(ctx, next)
	})
	if err != nil {
		return err
	}
	s.runner.Enqueue(Kind, id)
	return nil
}

// Reconcile implements lifecycle.Reconciler: one status step per call,
// each after StepDelay. Steps are idempotent; the record's version guards
// against a concurrent API write.
func (s *Service) Reconcile(ctx context.Context, id string) (time.Duration, bool, error) {
	var next time.Duration
	var done bool
	err := s.db.Update(ctx, func(tx store.Tx) error {
		next, done = 0, false
		rec, err := tx.Get(ctx, Kind, id)
		if errors.Is(err, store.ErrNotFound) {
			done = true
			return nil
		}
		if err != nil {
			return err
		}
		env, err := decode(rec)
		if err != nil {
			return err
		}
		if env.Status.terminal() {
			done = true
			if rec.Pending {
				rec.Pending = false
				return tx.Update(ctx, rec)
			}
			return nil
		}
		now := s.Now().UTC()
		if wait := env.NextStepAt.Sub(now); wait > 0 {
			next = wait
			return nil
		}
		var to Status
		switch env.Status {
		case CreateRequested:
			to = Creating
		case Creating:
			to = Created
			for _, hook := range s.OnCreated {
				if err := hook(ctx, tx, env); err != nil {
					return fmt.Errorf("environment %s: creation hook: %w", id, err)
				}
			}
		case DeleteRequested:
			to = Deleting
		case Deleting:
			to = Deleted
			if err := tagging.DeleteTx(ctx, tx, env.ARN); err != nil {
				return err
			}
		default:
			return fmt.Errorf("environment %s: no step from status %s", id, env.Status)
		}
		if err := env.moveTo(to); err != nil {
			return err
		}
		env.UpdatedAt, env.NextStepAt = now, now.Add(s.StepDelay)
		updated, err := record(env)
		if err != nil {
			return err
		}
		updated.Version = rec.Version
		if err := tx.Update(ctx, updated); err != nil {
			return err
		}
		done = env.Status.terminal()
		next = s.StepDelay
		return nil
	})
	return next, done, err
}

// Exists is the tagging resolver of "environment/<id>" ARNs.
func (s *Service) Exists(ctx context.Context, tx store.Tx, a tagging.ARN) (bool, error) {
	if len(a.Resource) != 1 {
		return false, nil
	}
	env, err := s.ReadTx(ctx, tx, a.Region, a.Resource[0])
	switch {
	case fault.KindOf(err) == fault.NotFound:
		return false, nil
	case err != nil:
		return false, err
	}
	return env.Status != Deleted, nil
}

// ReadTx reads environment id of region inside tx through the service's
// decoded-document cache. The environment is shared: read it, never change
// it.
func (s *Service) ReadTx(ctx context.Context, tx store.Tx, region, id string) (*Environment, error) {
	rec, err := getRecordTx(ctx, tx, region, id)
	if err != nil {
		return nil, err
	}
	return s.cached(rec)
}

// ListReadTx returns every environment of region inside tx (for callers
// that need "the only environment"), at most limit, through the cache:
// shared values, to be read only.
func (s *Service) ListReadTx(ctx context.Context, tx store.Tx, region string, limit int) ([]*Environment, error) {
	recs, err := tx.List(ctx, store.Query{Kind: Kind, Parent: region, Limit: limit})
	if err != nil {
		return nil, err
	}
	return s.cachedAll(recs)
}

// cachedAll is cached for each of recs.
func (s *Service) cachedAll(recs []*store.Record) ([]*Environment, error) {
	out := make([]*Environment, 0, len(recs))
	for _, rec := range recs {
		env, err := s.cached(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return out, nil
}
