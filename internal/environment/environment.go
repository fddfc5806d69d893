// Package environment implements FinSpace (Dataset Browser) environments:
// their records, status machine and asynchronous lifecycle.
package environment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/jobs"
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
	// NextStepAt is when the lifecycle job takes the next step.
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

// JobKind is the job kind of environments' lifecycles (package jobs): one
// job per phase ("environment/<id>/create", ".../delete") takes one
// status step per run, Config.StepDelay apart.
const JobKind = "environment"

// Jobs wakes the job engine after a transaction enqueued a job
// (*jobs.Engine).
type Jobs interface{ Wake(kind string) }

// Service implements the environment operations.
type Service struct {
	db      store.Store
	jobs    Jobs
	account string
	baseURL func() string
	// stepDelay is the pause between lifecycle steps (CREATE_REQUESTED →
	// CREATING → CREATED takes two steps).
	stepDelay time.Duration
	now       func() time.Time
	log       *slog.Logger
	// onCreated runs inside the transaction that moves an environment to
	// CREATED (the identity domain creates the superuser there).
	onCreated []CreatedHook

	envs   *store.Table[Environment, *Environment]
	states *store.Projection[State]
}

// CreatedHook is called in the transaction that makes env CREATED.
type CreatedHook func(ctx context.Context, tx store.Tx, env *Environment) error

// Config builds a Service.
type Config struct {
	Store store.Store
	// Jobs is woken after a transaction enqueues a lifecycle job; nil for
	// a service whose lifecycles nothing runs (tests of other domains).
	Jobs    Jobs
	Account string
	// BaseURL returns this server's public URL (known once it listens),
	// used for environmentUrl.
	BaseURL func() string
	// StepDelay is the pause between lifecycle steps (default 400 ms).
	StepDelay time.Duration
	// Now is the clock (default time.Now); the job engine that runs the
	// steps must use the same one.
	Now func() time.Time
	// Logger receives the causes of failed lifecycles (nil: nothing).
	Logger *slog.Logger
}

// New returns the environment service.
func New(cfg Config) *Service {
	envs := store.NewTable(store.TableDef[Environment, *Environment]{
		Kind:     Kind,
		ID:       func(e *Environment) string { return e.ID },
		Parent:   func(e *Environment) string { return e.Region },
		SortKey:  func(e *Environment) string { return e.CreatedAt.UTC().Format("20060102T150405.000000000Z") },
		Pending:  func(e *Environment) bool { return !e.Status.terminal() },
		NotFound: notFound,
		Conflict: func(id string) error {
			return fault.Conflictf("The environment %s was changed by another request; retry.", id)
		},
	})
	s := &Service{db: cfg.Store, jobs: cfg.Jobs, account: cfg.Account, baseURL: cfg.BaseURL,
		stepDelay: cfg.StepDelay, now: cfg.Now, log: cfg.Logger,
		envs: envs, states: store.NewProjection(envs, decodeState)}
	if s.jobs == nil {
		s.jobs = noJobs{}
	}
	if s.baseURL == nil {
		s.baseURL = func() string { return "" }
	}
	if s.stepDelay <= 0 {
		s.stepDelay = 400 * time.Millisecond
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

type noJobs struct{}

func (noJobs) Wake(string) {}

// OnCreated adds a hook run inside the transaction that makes an
// environment CREATED. Call it before serving (as tagging's Register).
func (s *Service) OnCreated(hook CreatedHook) { s.onCreated = append(s.onCreated, hook) }

// State is what other domains read of an environment on every request
// (identity resolving and checking its users): a plain value, shared from
// a cache without a copy.
type State struct {
	ID     string
	Region string
	Status Status
	// SuperuserEmail is the superuser's email address from
	// CreateEnvironment; "" when it gave none.
	SuperuserEmail string
}

func decodeState(data []byte) (State, error) {
	var doc struct {
		ID        string `json:"id"`
		Region    string `json:"region"`
		Status    Status `json:"status"`
		Superuser *struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"superuser"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return State{}, err
	}
	st := State{ID: doc.ID, Region: doc.Region, Status: doc.Status}
	if doc.Superuser != nil {
		st.SuperuserEmail = doc.Superuser.EmailAddress
	}
	return st, nil
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
	now := s.now().UTC()
	id := ids.EnvironmentID()
	env := &Environment{
		ID: id, Name: in.Name, Description: in.Description, KmsKeyID: in.KmsKeyID,
		Region: region, Account: s.account, ARN: s.ARN(region, id),
		URL:    strings.TrimSuffix(s.baseURL(), "/") + "/environments/" + id,
		Status: CreateRequested, FederationMode: mode, Federation: in.Federation,
		Superuser: in.Superuser, DataBundles: in.DataBundles,
		CreatedAt: now, UpdatedAt: now, NextStepAt: now.Add(s.stepDelay),
	}
	err := s.db.Update(ctx, func(tx store.Tx) error {
		if err := s.envs.Insert(ctx, tx, env); err != nil {
			return err
		}
		if err := tagging.PutTx(ctx, tx, env.ARN, in.Tags); err != nil {
			return err
		}
		return enqueuePhaseTx(ctx, tx, env, now)
	})
	if err != nil {
		return nil, err
	}
	s.jobs.Wake(JobKind)
	return env, nil
}

// phaseJob is the id of the job driving env's current phase.
func phaseJob(env *Environment) string {
	if env.Status.deleting() {
		return "environment/" + env.ID + "/delete"
	}
	return "environment/" + env.ID + "/create"
}

// enqueuePhaseTx schedules the first step of env's current phase at
// env.NextStepAt (a no-op if its job is live; a phase that failed before,
// FAILED_DELETION, starts again).
func enqueuePhaseTx(ctx context.Context, tx store.Tx, env *Environment, now time.Time) error {
	return jobs.EnqueueAgainTx(ctx, tx, now, jobs.Spec{ID: phaseJob(env), Kind: JobKind,
		Args: stepArgs{Region: env.Region, ID: env.ID}, Due: env.NextStepAt})
}

// stepArgs are the arguments of a lifecycle job.
type stepArgs struct {
	Region string `json:"region"`
	ID     string `json:"id"`
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

// Get returns environment id.
func (s *Service) Get(ctx context.Context, region, id string) (*Environment, error) {
	var env *Environment
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		env, _, err = s.envs.GetIn(ctx, tx, region, id)
		return err
	})
	return env, err
}

// List returns one page of the region's environments, oldest first.
func (s *Service) List(ctx context.Context, region string, after *store.Cursor, limit int) (paging.Page[*Environment], error) {
	var page paging.Page[*Environment]
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		page, err = s.envs.Page(ctx, tx, store.Query{Parent: region, After: after}, limit)
		return err
	})
	return page, err
}

// Update changes name, description or federation settings.
func (s *Service) Update(ctx context.Context, region, id string, in UpdateInput) (*Environment, error) {
	var env *Environment
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var version int64
		var err error
		env, version, err = s.envs.GetIn(ctx, tx, region, id)
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
		env.UpdatedAt = s.now().UTC()
		return s.envs.Update(ctx, tx, env, version)
	})
	return env, err
}

// Delete moves the environment to DELETE_REQUESTED and schedules deletion.
func (s *Service) Delete(ctx context.Context, region, id string) error {
	err := s.db.Update(ctx, func(tx store.Tx) error {
		env, version, err := s.envs.GetIn(ctx, tx, region, id)
		if err != nil {
			return err
		}
		if env.Status.deleting() {
			return fault.Invalidf("The Environment is in %s state.", env.Status)
		}
		if err := env.moveTo(DeleteRequested); err != nil {
			return err
		}
		now := s.now().UTC()
		env.UpdatedAt, env.NextStepAt = now, now.Add(s.stepDelay)
		if err := s.envs.Update(ctx, tx, env, version); err != nil {
			return err
		}
		// The creation phase ends here: its job (if still queued or
		// running) is cancelled; a run of it commits nothing now.
		if err := jobs.CancelTx(ctx, tx, now, nil, "environment/"+env.ID+"/create"); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return enqueuePhaseTx(ctx, tx, env, now)
	})
	if err != nil {
		return err
	}
	s.jobs.Wake(JobKind)
	return nil
}

// JobKind is the job kind that drives environments' lifecycles; the
// server registers it with its job engine.
func (s *Service) JobKind() *jobs.Kind {
	return &jobs.Kind{Name: JobKind, Workers: 8, Lease: 30 * time.Second, MaxAttempts: 10,
		Handler: jobs.HandlerFunc(s.runStep), OnFailed: s.stepFailed}
}

// stepFailed ends a lifecycle whose step failed every attempt in the
// model's failed status of its phase: FAILED_CREATION or FAILED_DELETION
// (from which DeleteEnvironment may start again). A phase that ended
// otherwise meanwhile (a creation overtaken by a deletion) is left alone.
// The model has no reason member for environments: the cause is logged.
func (s *Service) stepFailed(ctx context.Context, tx store.Tx, j *jobs.Job, cause error) error {
	var args stepArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return err
	}
	env, version, err := s.envs.Get(ctx, tx, args.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var to Status
	switch {
	case strings.HasSuffix(j.ID, "/create") && (env.Status == CreateRequested || env.Status == Creating):
		to = FailedCreation
	case strings.HasSuffix(j.ID, "/delete") && (env.Status == DeleteRequested || env.Status == Deleting):
		to = FailedDeletion
	default:
		return nil
	}
	s.log.Error("environment lifecycle failed", "environment", env.ID, "from", env.Status, "outcome", to,
		"attempts", j.Attempt, "error", cause)
	if err := env.moveTo(to); err != nil {
		return err
	}
	env.UpdatedAt = s.now().UTC()
	return s.envs.Update(ctx, tx, env, version)
}

// runStep is one lifecycle step: nothing to do outside a transaction, so
// the step is the run's commit, and the next step is scheduled stepDelay
// later until the status is terminal.
func (s *Service) runStep(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
	var args stepArgs
	if err := r.Args(&args); err != nil {
		return jobs.Result{}, jobs.Permanent(err)
	}
	return jobs.Result{Commit: func(ctx context.Context, tx store.Tx) error {
		again, err := s.stepTx(ctx, tx, args.ID)
		if again {
			r.Again(s.stepDelay)
		}
		return err
	}}, nil
}

// Resume schedules the lifecycle of every environment still in flight
// that has no job (records written before the job engine existed).
func (s *Service) Resume(ctx context.Context) error {
	var after *store.Cursor
	for {
		err := s.db.Update(ctx, func(tx store.Tx) error {
			page, err := s.envs.Page(ctx, tx, store.Query{AnyParent: true, PendingOnly: true, After: after}, 200)
			if err != nil {
				return err
			}
			now := s.now().UTC()
			for _, env := range page.Items {
				if !env.Status.terminal() {
					if err := enqueuePhaseTx(ctx, tx, env, now); err != nil {
						return err
					}
				}
			}
			after = page.Next
			return nil
		})
		if err != nil {
			return err
		}
		if after == nil {
			s.jobs.Wake(JobKind)
			return nil
		}
	}
}

// stepTx takes one status step of environment id in tx and reports
// whether another follows. Steps are idempotent: a status already terminal
// (or an environment gone) takes none.
func (s *Service) stepTx(ctx context.Context, tx store.Tx, id string) (again bool, err error) {
	env, version, err := s.envs.Get(ctx, tx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil || env.Status.terminal() {
		return false, err
	}
	now := s.now().UTC()
	var to Status
	switch env.Status {
	case CreateRequested:
		to = Creating
	case Creating:
		to = Created
		for _, hook := range s.onCreated {
			if err := hook(ctx, tx, env); err != nil {
				return false, fmt.Errorf("environment %s: creation hook: %w", id, err)
			}
		}
	case DeleteRequested:
		to = Deleting
	case Deleting:
		to = Deleted
		if err := tagging.DeleteTx(ctx, tx, env.ARN); err != nil {
			return false, err
		}
	default:
		return false, fmt.Errorf("environment %s: no step from status %s", id, env.Status)
	}
	if err := env.moveTo(to); err != nil {
		return false, err
	}
	env.UpdatedAt, env.NextStepAt = now, now.Add(s.stepDelay)
	if err := s.envs.Update(ctx, tx, env, version); err != nil {
		return false, err
	}
	return !env.Status.terminal(), nil
}

// Exists is the tagging resolver of "environment/<id>" ARNs.
func (s *Service) Exists(ctx context.Context, tx store.Tx, a tagging.ARN) (bool, error) {
	if len(a.Resource) != 1 {
		return false, nil
	}
	st, err := s.StateTx(ctx, tx, a.Region, a.Resource[0])
	switch {
	case fault.KindOf(err) == fault.NotFound:
		return false, nil
	case err != nil:
		return false, err
	}
	return st.Status != Deleted, nil
}

// StateTx reads the state of environment id of region inside tx; an
// environment of another region is not found (a NotFound fault).
func (s *Service) StateTx(ctx context.Context, tx store.Tx, region, id string) (State, error) {
	st, err := s.states.GetIn(ctx, tx, region, id)
	if errors.Is(err, store.ErrNotFound) {
		return st, notFound(id)
	}
	return st, err
}

// notFound is the fault of an absent environment (errors.Is
// store.ErrNotFound too).
func notFound(id string) error {
	f := fault.NotFoundf("The environment %s does not exist.", id)
	f.Err = store.ErrNotFound
	return f
}

// ListStatesTx returns the states of the region's environments inside tx,
// oldest first, at most limit (for callers that need "the only
// environment").
func (s *Service) ListStatesTx(ctx context.Context, tx store.Tx, region string, limit int) ([]State, error) {
	return s.states.List(ctx, tx, store.Query{Parent: region, Limit: limit})
}
