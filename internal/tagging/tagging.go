// Package tagging keeps the tags of every resource this server issues an
// ARN for. Resource families register a resolver per ARN resource type, so
// TagResource on an unknown ARN answers ResourceNotFoundException.
package tagging

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"sort"
	"strings"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Kind is the store record kind of tag sets (ID = resource ARN).
const Kind = "tags"

// MaxTags is the most tags one resource may carry.
const MaxTags = 50

// ARN is a parsed FinSpace ARN: arn:aws:finspace:<region>:<account>:<resource>.
type ARN struct {
	Raw      string
	Region   string
	Account  string
	Type     string   // first resource segment type, e.g. "environment", "kxEnvironment"
	Resource []string // segments after the type, e.g. [envId, "kxCluster", name]
}

// ParseARN splits a FinSpace ARN.
func ParseARN(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "finspace" {
		return ARN{}, fault.Invalidf("%q is not a FinSpace ARN.", s)
	}
	segs := strings.Split(parts[5], "/")
	if len(segs) < 2 {
		return ARN{}, fault.Invalidf("%q is not a FinSpace resource ARN.", s)
	}
	return ARN{Raw: s, Region: parts[3], Account: parts[4], Type: segs[0], Resource: segs[1:]}, nil
}

// Resolver reports whether the resource an ARN names exists (and is not
// deleted), reading within tx.
type Resolver func(ctx context.Context, tx store.Tx, a ARN) (bool, error)

// Service answers TagResource, UntagResource and ListTagsForResource.
type Service struct {
	db        store.Store
	account   string
	resolvers map[string]Resolver
	tags      *store.Table[tagSet, *tagSet]
}

// New returns a tagging service for account.
func New(db store.Store, account string) *Service {
	return &Service{db: db, account: account, resolvers: map[string]Resolver{}, tags: newTable(0)}
}

// tagSet is the tags of one resource. Its document is the JSON object of
// its tags; the record ID is the ARN.
type tagSet struct {
	arn  string
	tags map[string]string
}

func (t *tagSet) Clone() *tagSet { return &tagSet{arn: t.arn, tags: maps.Clone(t.tags)} }

func (t *tagSet) MarshalJSON() ([]byte, error) { return json.Marshal(t.tags) }

func (t *tagSet) UnmarshalJSON(data []byte) error {
	t.tags = map[string]string{}
	return json.Unmarshal(data, &t.tags)
}

func newTable(cacheMax int) *store.Table[tagSet, *tagSet] {
	return store.NewTable(store.TableDef[tagSet, *tagSet]{Kind: Kind, CacheMax: cacheMax,
		ID:     func(t *tagSet) string { return t.arn },
		FromID: func(arn string, t *tagSet) { t.arn = arn }})
}

// txTags serves PutTx and DeleteTx, called inside other domains'
// transactions: uncached, so that it holds no state.
var txTags = newTable(store.NoCache)

// Register sets the resolver of an ARN resource type. Call before serving.
func (s *Service) Register(resourceType string, r Resolver) { s.resolvers[resourceType] = r }

// resolve checks that arn names an existing resource in region.
func (s *Service) resolve(ctx context.Context, tx store.Tx, region, arn string) error {
	a, err := ParseARN(arn)
	if err != nil {
		return err
	}
	r := s.resolvers[a.Type]
	if a.Account != s.account || a.Region != region || r == nil {
		return notFound(arn)
	}
	ok, err := r(ctx, tx, a)
	if err != nil {
		return err
	}
	if !ok {
		return notFound(arn)
	}
	return nil
}

func notFound(arn string) error {
	return fault.NotFoundf("The resource %s does not exist.", arn)
}

// List returns the tags of arn.
func (s *Service) List(ctx context.Context, region, arn string) (map[string]string, error) {
	var tags map[string]string
	err := s.db.View(ctx, func(tx store.Tx) error {
		if err := s.resolve(ctx, tx, region, arn); err != nil {
			return err
		}
		set, _, err := getTx(ctx, tx, s.tags, arn)
		tags = set.tags
		return err
	})
	return tags, err
}

// Tag adds or replaces tags on arn.
func (s *Service) Tag(ctx context.Context, region, arn string, add map[string]string) error {
	return s.db.Update(ctx, func(tx store.Tx) error {
		if err := s.resolve(ctx, tx, region, arn); err != nil {
			return err
		}
		return putTx(ctx, tx, s.tags, arn, add)
	})
}

// Untag removes keys from arn's tags; absent keys are ignored.
func (s *Service) Untag(ctx context.Context, region, arn string, keys []string) error {
	return s.db.Update(ctx, func(tx store.Tx) error {
		if err := s.resolve(ctx, tx, region, arn); err != nil {
			return err
		}
		set, version, err := getTx(ctx, tx, s.tags, arn)
		if err != nil {
			return err
		}
		for _, k := range keys {
			delete(set.tags, k)
		}
		return writeTx(ctx, tx, s.tags, set, version)
	})
}

// getTx reads arn's tags (the caller's copy) and their version; no record
// means no tags, at version 0.
func getTx(ctx context.Context, tx store.Tx, t *store.Table[tagSet, *tagSet], arn string) (*tagSet, int64, error) {
	set, version, err := t.Get(ctx, tx, arn)
	if errors.Is(err, store.ErrNotFound) {
		return &tagSet{arn: arn, tags: map[string]string{}}, 0, nil
	}
	return set, version, err
}

// PutTx merges add into arn's tags inside tx (used when a resource is
// created with tags). More than MaxTags in all is an Invalid fault.
func PutTx(ctx context.Context, tx store.Tx, arn string, add map[string]string) error {
	return putTx(ctx, tx, txTags, arn, add)
}

func putTx(ctx context.Context, tx store.Tx, t *store.Table[tagSet, *tagSet], arn string, add map[string]string) error {
	if len(add) == 0 {
		return nil
	}
	set, version, err := getTx(ctx, tx, t, arn)
	if err != nil {
		return err
	}
	maps.Copy(set.tags, add)
	if len(set.tags) > MaxTags {
		return fault.Invalidf("A resource can have at most %d tags; this request would give it %d.", MaxTags, len(set.tags))
	}
	return writeTx(ctx, tx, t, set, version)
}

// writeTx stores set, read at version (0: absent); no tags, no record.
func writeTx(ctx context.Context, tx store.Tx, t *store.Table[tagSet, *tagSet], set *tagSet, version int64) error {
	switch {
	case version == 0 && len(set.tags) == 0:
		return nil
	case version == 0:
		return t.Insert(ctx, tx, set)
	case len(set.tags) == 0:
		return t.Delete(ctx, tx, set.arn)
	default:
		return t.Update(ctx, tx, set, version)
	}
}

// DeleteTx drops arn's tags inside tx (when its resource is deleted).
func DeleteTx(ctx context.Context, tx store.Tx, arn string) error {
	err := txTags.Delete(ctx, tx, arn)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// Keys returns the sorted keys of tags (for stable output in tests and logs).
func Keys(tags map[string]string) []string {
	out := make([]string, 0, len(tags))
	for k := range tags {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
