// Package kx implements Managed kdb Insights: kx environments (records,
// status machine, asynchronous lifecycle), their users, and their
// databases, whose versions changesets make in a content-addressed store
// (apply.go; package kxfs materializes them on local disk).
package kx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/tagging"
	shapes "github.com/openfinspace/openfinspace/internal/wire/finspace"
)

// EnvironmentKind is the store record kind of kx environments (Parent =
// region).
const EnvironmentKind = "kxEnvironment"

// JobKind is the job kind of kx environments' lifecycles: one job per
// phase ("kxEnvironment/<id>/create", ".../delete") takes one status step
// per run, Config.StepDelay apart.
const JobKind = "kxEnvironment"

// Status is a kx environment status (model enum EnvironmentStatus).
type Status string

const (
	CreateRequested Status = "CREATE_REQUESTED"
	Creating        Status = "CREATING"
	Created         Status = "CREATED"
	DeleteRequested Status = "DELETE_REQUESTED"
	Deleting        Status = "DELETING"
	Deleted         Status = "DELETED"
	// A network update (UpdateKxEnvironmentNetwork) runs in these.
	UpdateNetworkRequested Status = "UPDATE_NETWORK_REQUESTED"
	UpdatingNetwork        Status = "UPDATING_NETWORK"
	// A phase whose step failed every attempt ends in these (the model's
	// EnvironmentStatus, errorMessage saying why).
	FailedCreation        Status = "FAILED_CREATION"
	FailedDeletion        Status = "FAILED_DELETION"
	FailedUpdatingNetwork Status = "FAILED_UPDATING_NETWORK"
)

// transitions is the status machine of kx environments.
var transitions = Machine[Status]{
	CreateRequested:        {Creating, FailedCreation, DeleteRequested},
	Creating:               {Created, FailedCreation, DeleteRequested},
	Created:                {DeleteRequested, UpdateNetworkRequested},
	UpdateNetworkRequested: {UpdatingNetwork, FailedUpdatingNetwork, DeleteRequested},
	UpdatingNetwork:        {Created, FailedUpdatingNetwork, DeleteRequested},
	DeleteRequested:        {Deleting, FailedDeletion},
	Deleting:               {Deleted, FailedDeletion},
	Deleted:                {},
	FailedCreation:         {DeleteRequested},
	FailedDeletion:         {DeleteRequested},
	FailedUpdatingNetwork:  {DeleteRequested, UpdateNetworkRequested},
}

func (s Status) terminal() bool {
	switch s {
	case Created, Deleted, FailedCreation, FailedDeletion, FailedUpdatingNetwork:
		return true
	}
	return false
}

func (s Status) deleting() bool { return s == DeleteRequested || s == Deleting || s == Deleted }

// CanMove reports whether from → to is an allowed transition.
func CanMove(from, to Status) bool { return transitions.CanMove(from, to) }

// Environment is the stored document of one kx environment.
type Environment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	KmsKeyID    string `json:"kmsKeyId"`
	Region      string `json:"region"`
	Account     string `json:"account"`
	ARN         string `json:"arn"`
	// ServiceAccount is the dedicatedServiceAccountId: the account that
	// would host the environment's infrastructure (derived from the id,
	// so it is stable).
	ServiceAccount string `json:"serviceAccount"`
	// AvailabilityZoneIDs are the region's zone ids the environment spans.
	AvailabilityZoneIDs     []string  `json:"availabilityZoneIds"`
	CertificateAuthorityARN string    `json:"certificateAuthorityArn"`
	Status                  Status    `json:"status"`
	CreatedAt               time.Time `json:"createdAt"`
	UpdatedAt               time.Time `json:"updatedAt"`
	NextStepAt              time.Time `json:"nextStepAt"`
	// ErrorMessage says why the last phase failed (errorMessage; FAILED_*
	// statuses), client-safe: the cause itself is in the log.
	ErrorMessage string `json:"errorMessage,omitempty"`
	// TransitGateway and CustomDNS are the network configurations as the
	// client sent them: the validated wire shapes, kept and echoed (see
	// NetworkInput). They are values: an update replaces them whole and
	// nothing changes them in place, so copies share them. TgwStatus and
	// DNSStatus are their update statuses ("" reads as NONE).
	TransitGateway *shapes.TransitGatewayConfiguration `json:"transitGateway,omitempty"`
	CustomDNS      []shapes.CustomDNSServer            `json:"customDNS,omitempty"`
	TgwStatus      string                              `json:"tgwStatus,omitempty"`
	DNSStatus      string                              `json:"dnsStatus,omitempty"`
	// NetworkUpdates counts network updates (it names their jobs).
	NetworkUpdates int `json:"networkUpdates,omitempty"`
}

// Clone returns a copy of e (the network configurations shared: see
// TransitGateway).
func (e *Environment) Clone() *Environment {
	c := *e
	c.AvailabilityZoneIDs = append([]string(nil), e.AvailabilityZoneIDs...)
	return &c
}

func (e *Environment) moveTo(to Status) error {
	return transitions.Move("The Environment", &e.Status, to)
}

// CreateInput is what CreateKxEnvironment asks for.
type CreateInput struct {
	Name, Description, KmsKeyID string
	Tags                        map[string]string
}

// UpdateInput is what UpdateKxEnvironment may change; nil leaves a field.
type UpdateInput struct{ Name, Description *string }

// Jobs wakes the job engine after a transaction enqueued a job.
type Jobs interface {
	Wake(kind string)
	// Signalled delivers a signal to a job running in this process after
	// the transaction that called jobs.SignalTx committed.
	Signalled(id string)
}

// ClientTokens marks the client token of the request ctx belongs to as
// carried out, in the transaction that commits its effects
// (*idempotency.Tokens).
type ClientTokens interface {
	CommitTx(ctx context.Context, tx store.Tx) error
}

type noJobs struct{}

func (noJobs) Wake(string)      {}
func (noJobs) Signalled(string) {}

type noTokens struct{}

func (noTokens) CommitTx(context.Context, store.Tx) error { return nil }

// Config builds a Service.
type Config struct {
	Store   store.Store
	Jobs    Jobs
	Tokens  ClientTokens
	Account string
	// StepDelay is the pause between lifecycle steps (default 400 ms).
	StepDelay time.Duration
	// Now is the clock (default time.Now), the job engine's too.
	Now func() time.Time
	// Blobs is the object store: changesets' sources and the content
	// store of database versions.
	Blobs blob.Store
	// PerEnvironment bounds the changesets applied at once in one
	// environment (default 10, the real service's quota); Workers those of
	// one process (default 4); Lease their job lease (default 30 s).
	PerEnvironment, Workers int
	Lease                   time.Duration
	// ClusterRoot is the local directory of the clusters this process
	// hosts and of their content cache (the server's <data dir>/kx).
	ClusterRoot string
	// KdbExecutable is the kdb+ executable nodes run (q); without one,
	// clusters end CREATE_FAILED saying so.
	KdbExecutable string
	// ClustersPerProcess bounds the clusters one process hosts (default
	// 32); more stay PENDING until one is deleted.
	ClustersPerProcess int
	// LocalObject, when set, maps a source object to the file that holds
	// it on this machine (the embedded store, see dataset.Config): such
	// sources are read from the file, in place, rather than through a GET;
	// a source without one (ok false), or whose file is not the listed
	// size, is read through Blobs.
	LocalObject func(bucket, key string) (path string, ok bool)
	// LinkObject, when set, makes the open file f (a source read in
	// place through LocalObject) the object bucket/key of the same store
	// without copying it (a hard link), and reports whether it did; a
	// changeset then stores a new content read in place by linking it.
	// The store never writes an object file in place, so the link keeps
	// the content it was hashed with.
	LinkObject func(f *os.File, bucket, key string) (bool, error)
	// Logger receives what the service and its jobs log (nil: nothing).
	Logger *slog.Logger
	// Metrics counts finished changesets and node restarts (nil: not
	// counted).
	Metrics Metrics
}

// Metrics is what the service reports to the server's metrics.
type Metrics interface {
	KxChangesetFinished(status string, files int, bytes int64)
	NodeRestarted()
}

type noMetrics struct{}

func (noMetrics) KxChangesetFinished(string, int, int64) {}
func (noMetrics) NodeRestarted()                         {}

// Service implements the kx operations.
type Service struct {
	db        store.Store
	log       *slog.Logger
	metrics   Metrics
	jobs      Jobs
	tokens    ClientTokens
	account   string
	stepDelay time.Duration
	now       func() time.Time
	envs      *store.Table[Environment, *Environment]

	blobs              blob.Store
	perEnv             int
	workers            int
	copyWorkers        int
	lease              time.Duration
	clusters           *store.Table[Cluster, *Cluster]
	cacheMu            sync.Mutex
	clusterRoot        string
	kdbExecutable      string
	clustersPerProcess int
	localObject        func(bucket, key string) (string, bool)
	linkObject         func(f *os.File, bucket, key string) (bool, error)
	databases          *store.Table[Database, *Database]
	changesets         *store.Table[Changeset, *Changeset]
	// families are the resource families registered (families.go);
	// placement the scaling groups' admission (placement.go).
	families    []Family
	placement   Placement
	volumeAdmit Volumes
}

// New returns the kx service.
func New(cfg Config) *Service {
	s := &Service{db: cfg.Store, jobs: cfg.Jobs, tokens: cfg.Tokens, account: cfg.Account,
		stepDelay: cfg.StepDelay, now: cfg.Now, blobs: cfg.Blobs, perEnv: cfg.PerEnvironment, workers: cfg.Workers,
		copyWorkers: 4, lease: cfg.Lease, localObject: cfg.LocalObject,
		linkObject: cfg.LinkObject, clusterRoot: cfg.ClusterRoot, kdbExecutable: cfg.KdbExecutable,
		clustersPerProcess: cfg.ClustersPerProcess, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics = cfg.Metrics; s.metrics == nil {
		s.metrics = noMetrics{}
	}
	if s.clustersPerProcess <= 0 {
		s.clustersPerProcess = 32
	}
	if s.perEnv <= 0 {
		s.perEnv = 10
	}
	if s.workers <= 0 {
		s.workers = 4
	}
	if s.lease <= 0 {
		s.lease = 30 * time.Second
	}
	if s.jobs == nil {
		s.jobs = noJobs{}
	}
	if s.tokens == nil {
		s.tokens = noTokens{}
	}
	if s.stepDelay <= 0 {
		s.stepDelay = 400 * time.Millisecond
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.envs = store.NewTable(store.TableDef[Environment, *Environment]{
		Kind:     EnvironmentKind,
		ID:       func(e *Environment) string { return e.ID },
		Parent:   func(e *Environment) string { return e.Region },
		SortKey:  func(e *Environment) string { return e.CreatedAt.UTC().Format("20060102T150405.000000000Z") },
		Pending:  func(e *Environment) bool { return !e.Status.terminal() },
		NotFound: envNotFound,
		Conflict: func(id string) error {
			return fault.Conflictf("The environment %s was changed by another request; retry.", id)
		},
	})
	s.databases = newDatabaseTable()
	s.changesets = newChangesetTable()
	s.clusters = newClusterTable()
	// The families this package keeps register like the others: databases
	// (with their changesets) go with the environment; clusters keep it.
	s.Register(Family{ARNType: "kxDatabase", Exists: s.databaseExistsTx, DeleteAll: s.deleteDatabasesTx})
	s.Register(Family{ARNType: "kxCluster", Exists: s.clusterExistsTx,
		BlocksDelete: func(ctx context.Context, tx store.Tx, env *Environment) error {
			return s.clustersLeftTx(ctx, tx, env.ID)
		}})
	return s
}

func envNotFound(id string) error {
	f := fault.NotFoundf("The environment %s does not exist.", id)
	f.Err = store.ErrNotFound
	return f
}

// ARN returns the ARN of kx environment id in region.
func (s *Service) ARN(region, id string) string {
	return fmt.Sprintf("arn:aws:finspace:%s:%s:kxEnvironment/%s", region, s.account, id)
}

// serviceAccount derives a 12-digit dedicated service account id from the
// environment id: plausible, and the same on every read.
func serviceAccount(id string) string {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	return fmt.Sprintf("%012d", h%1_000_000_000_000)
}

// zoneIDs are three availability zone ids of region, in AWS's form
// (use1-az1 for us-east-1).
func zoneIDs(region string) []string {
	short := region
	if parts := splitRegion(region); len(parts) == 3 && parts[0] != "" && parts[1] != "" {
		short = parts[0] + string(parts[1][0]) + parts[2]
	}
	return []string{short + "-az1", short + "-az2", short + "-az4"}
}

func splitRegion(r string) []string {
	var out []string
	start := 0
	for i := 0; i < len(r); i++ {
		if r[i] == '-' {
			out = append(out, r[start:i])
			start = i + 1
		}
	}
	return append(out, r[start:])
}

// CreateEnvironment records a new kx environment in CREATE_REQUESTED and
// schedules its creation. The real service allowed one per region by
// default; openfinspace sets no such quota.
func (s *Service) CreateEnvironment(ctx context.Context, region string, in CreateInput) (*Environment, error) {
	now := s.now().UTC()
	id := ids.EnvironmentID()
	sa := serviceAccount(id)
	env := &Environment{
		ID: id, Name: in.Name, Description: in.Description, KmsKeyID: in.KmsKeyID,
		Region: region, Account: s.account, ARN: s.ARN(region, id),
		ServiceAccount: sa, AvailabilityZoneIDs: zoneIDs(region),
		CertificateAuthorityARN: fmt.Sprintf("arn:aws:acm-pca:%s:%s:certificate-authority/%s", region, sa, uuidFrom(id)),
		Status:                  CreateRequested, CreatedAt: now, UpdatedAt: now, NextStepAt: now.Add(s.stepDelay),
	}
	err := s.db.Update(ctx, func(tx store.Tx) error {
		if err := s.envs.Insert(ctx, tx, env); err != nil {
			return err
		}
		if err := tagging.PutTx(ctx, tx, env.ARN, in.Tags); err != nil {
			return err
		}
		if err := s.enqueuePhaseTx(ctx, tx, env, now); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	s.jobs.Wake(JobKind)
	return env, nil
}

// uuidFrom formats a stable UUID-shaped string from id.
func uuidFrom(id string) string {
	var b [16]byte
	for i := 0; i < len(id); i++ {
		b[i%16] = b[i%16]*31 + id[i]
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func phaseJob(env *Environment) string {
	if env.Status == UpdateNetworkRequested || env.Status == UpdatingNetwork {
		return networkJob(env)
	}
	if env.Status.deleting() {
		return "kxEnvironment/" + env.ID + "/delete"
	}
	return "kxEnvironment/" + env.ID + "/create"
}

func (s *Service) enqueuePhaseTx(ctx context.Context, tx store.Tx, env *Environment, now time.Time) error {
	// A phase that failed before (FAILED_DELETION deleted again) starts
	// again under its job id.
	return jobs.EnqueueAgainTx(ctx, tx, now, jobs.Spec{ID: phaseJob(env), Kind: JobKind,
		Args: stepArgs{ID: env.ID}, Due: env.NextStepAt})
}

type stepArgs struct {
	ID string `json:"id"`
}

// GetEnvironment returns kx environment id (DELETED ones too).
func (s *Service) GetEnvironment(ctx context.Context, region, id string) (*Environment, error) {
	var env *Environment
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		env, _, err = s.envs.GetIn(ctx, tx, region, id)
		return err
	})
	return env, err
}

// ListEnvironments returns one page of the region's kx environments,
// oldest first.
func (s *Service) ListEnvironments(ctx context.Context, region string, after *store.Cursor, limit int) (paging.Page[*Environment], error) {
	var page paging.Page[*Environment]
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		page, err = s.envs.Page(ctx, tx, store.Query{Parent: region, After: after}, limit)
		return err
	})
	return page, err
}

// UpdateEnvironment changes name or description.
func (s *Service) UpdateEnvironment(ctx context.Context, region, id string, in UpdateInput) (*Environment, error) {
	var env *Environment
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var version int64
		var err error
		env, version, err = s.envs.GetIn(ctx, tx, region, id)
		if err != nil {
			return err
		}
		if env.Status.deleting() {
			return fault.Invalidf("The Environment is in %s state.", env.Status)
		}
		if in.Name != nil {
			env.Name = *in.Name
		}
		if in.Description != nil {
			env.Description = *in.Description
		}
		env.UpdatedAt = s.now().UTC()
		if err := s.envs.Update(ctx, tx, env, version); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	return env, err
}

// DeleteEnvironment moves the environment to DELETE_REQUESTED and
// schedules its deletion. On an environment already on its way out it
// answers what the real service did ("The Environment is in DELETED
// state", which Terraform ignores).
func (s *Service) DeleteEnvironment(ctx context.Context, region, id string) error {
	err := s.db.Update(ctx, func(tx store.Tx) error {
		env, version, err := s.envs.GetIn(ctx, tx, region, id)
		if err != nil {
			return err
		}
		if env.Status.deleting() {
			return fault.Invalidf("The Environment is in %s state.", env.Status)
		}
		if err := s.familiesBlockDeleteTx(ctx, tx, env); err != nil {
			return err
		}
		if err := env.moveTo(DeleteRequested); err != nil {
			return err
		}
		now := s.now().UTC()
		env.UpdatedAt, env.NextStepAt = now, now.Add(s.stepDelay)
		if err := s.envs.Update(ctx, tx, env, version); err != nil {
			return err
		}
		for _, job := range []string{"kxEnvironment/" + env.ID + "/create", networkJob(env)} {
			if err := jobs.CancelTx(ctx, tx, now, nil, job); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := s.enqueuePhaseTx(ctx, tx, env, now); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	if err != nil {
		return err
	}
	s.jobs.Wake(JobKind)
	return nil
}

// JobKind is the job kind that drives kx environments' lifecycles; the
// server registers it with its job engine.
func (s *Service) JobKind() *jobs.Kind {
	return &jobs.Kind{Name: JobKind, Workers: 4, Lease: 30 * time.Second, MaxAttempts: 10,
		Handler: jobs.HandlerFunc(s.runStep), OnFailed: s.stepFailed}
}

// stepFailed ends a phase whose step failed every attempt in the model's
// failed status of that phase, with a client-safe errorMessage (the cause
// is logged). A phase overtaken meanwhile (a creation by a deletion) is
// left alone.
func (s *Service) stepFailed(ctx context.Context, tx store.Tx, j *jobs.Job, cause error) error {
	var args stepArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return err
	}
	env, version, err := s.envs.Get(ctx, tx, args.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || j.ID != phaseJob(env) {
		return err
	}
	var to Status
	var msg string
	switch env.Status {
	case CreateRequested, Creating:
		to, msg = FailedCreation, "The environment could not be created (an internal error)."
	case DeleteRequested, Deleting:
		to, msg = FailedDeletion, "The environment could not be deleted (an internal error); delete it again."
	case UpdateNetworkRequested, UpdatingNetwork:
		to, msg = FailedUpdatingNetwork, "The environment's network could not be updated (an internal error)."
	default:
		return nil
	}
	if j.Error != "" && j.Error != "internal error" {
		msg = strings.TrimSuffix(msg, " (an internal error).") + ": " + j.Error
	}
	s.log.Error("kx environment lifecycle failed", "environment", env.ID, "from", env.Status, "outcome", to,
		"attempts", j.Attempt, "error", cause)
	if err := env.moveTo(to); err != nil {
		return err
	}
	env.ErrorMessage, env.UpdatedAt = msg, s.now().UTC()
	return s.envs.Update(ctx, tx, env, version)
}

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

// stepTx takes one status step of kx environment id and reports whether
// another follows; a terminal status (or a missing record) takes none.
func (s *Service) stepTx(ctx context.Context, tx store.Tx, id string) (bool, error) {
	env, version, err := s.envs.Get(ctx, tx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil || env.Status.terminal() {
		return false, err
	}
	var to Status
	switch env.Status {
	case CreateRequested:
		to = Creating
	case Creating, UpdatingNetwork:
		to = Created
	case UpdateNetworkRequested:
		to = UpdatingNetwork
	case DeleteRequested:
		to = Deleting
	case Deleting:
		to = Deleted
		if err := tagging.DeleteTx(ctx, tx, env.ARN); err != nil {
			return false, err
		}
		if err := s.familiesDeleteAllTx(ctx, tx, env); err != nil {
			return false, err
		}
	default:
		return false, fmt.Errorf("kx environment %s: no step from status %s", id, env.Status)
	}
	if err := env.moveTo(to); err != nil {
		return false, err
	}
	env.stepNetwork(to)
	env.ErrorMessage = "" // a new phase moves on
	now := s.now().UTC()
	env.UpdatedAt, env.NextStepAt = now, now.Add(s.stepDelay)
	if err := s.envs.Update(ctx, tx, env, version); err != nil {
		return false, err
	}
	return !env.Status.terminal(), nil
}

// Resume schedules the lifecycle of every kx environment still in flight
// that has no job.
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
				if err := s.enqueuePhaseTx(ctx, tx, env, now); err != nil {
					return err
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
			if err := s.resumeChangesets(ctx); err != nil {
				return err
			}
			s.jobs.Wake(ChangesetJobKind)
			return nil
		}
	}
}

// liveEnvTx reads kx environment id for an operation on what it holds:
// not found when absent; a ValidationException naming its status when it
// is being deleted or gone, as the real service answered.
func (s *Service) liveEnvTx(ctx context.Context, tx store.Tx, region, id string) (*Environment, error) {
	env, _, err := s.envs.GetIn(ctx, tx, region, id)
	if err != nil {
		return nil, err
	}
	if env.Status.deleting() {
		return nil, fault.Invalidf("The Environment is in %s state.", env.Status)
	}
	return env, nil
}

// Exists is the tagging resolver of "kxEnvironment/<id>[/kxUser/<name>]"
// ARNs.
func (s *Service) Exists(ctx context.Context, tx store.Tx, a tagging.ARN) (bool, error) {
	switch len(a.Resource) {
	case 1:
		env, _, err := s.envs.GetIn(ctx, tx, a.Region, a.Resource[0])
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return env.Status != Deleted, nil
	case 3, 5: // …/<type>/<name>, …/kxDatabase/<db>/<type>/<name>: the families'
		return s.familyExists(ctx, tx, a)
	}
	return false, nil
}
