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
	// docs holds decoded tag sets for List; its maps are shared and never
	// changed.
	docs *store.Decoded[map[string]string]
}

// New returns a tagging service for account.
func New(db store.Store, account string) *Service {
	return &Service{db: db, account: account, resolvers: map[string]Resolver{},
		docs: &store.Decoded[map[string]string]{Decode: decodeTags}}
}

func decodeTags(data []byte) (map[string]string, error) {
	tags := map[string]string{}
	if err := json.Unmarshal(data, &tags); err != nil {
		return nil, err
	}
	return tags, nil
}

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
		shared, err := readTx(ctx, tx, arn, s.docs.Get)
		tags = maps.Clone(shared)
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
		return PutTx(ctx, tx, arn, add)
	})
}

// Untag removes keys from arn's tags; absent keys are ignored.
func (s *Service) Untag(ctx context.Context, region, arn string, keys []string) error {
	return s.db.Update(ctx, func(tx store.Tx) error {
		if err := s.resolve(ctx, tx, region, arn); err != nil {
			return err
		}
		tags, err := getTx(ctx, tx, arn)
		if err != nil {
			return err
		}
		for _, k := range keys {
			delete(tags, k)
		}
		return writeTx(ctx, tx, arn, tags)
	})
}

// getTx reads arn's tags inside tx, decoded afresh (the caller may change
// them).
func getTx(ctx context.Context, tx store.Tx, arn string) (map[string]string, error) {
	return readTx(ctx, tx, arn, func(rec *store.Record) (map[string]string, error) { return decodeTags(rec.Data) })
}

// readTx reads arn's tags with decode; no record means no tags.
func readTx(ctx context.Context, tx store.Tx, arn string, decode func(*store.Record) (map[string]string, error)) (map[string]string, error) {
	rec, err := tx.Get(ctx, Kind, arn)
	if errors.Is(err, store.ErrNotFound) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	return decode(rec)
}

// PutTx merges add into arn's tags inside tx (used when a resource is
// created with tags). More than MaxTags in all is an Invalid fault.
func PutTx(ctx context.Context, tx store.Tx, arn string, add map[string]string) error {
	if len(add) == 0 {
		return nil
	}
	tags, err := getTx(ctx, tx, arn)
	if err != nil {
		return err
	}
	for k, v := range add {
		tags[k] = v
	}
	if len(tags) > MaxTags {
		return fault.Invalidf("A resource can have at most %d tags; this request would give it %d.", MaxTags, len(tags))
	}
	return writeTx(ctx, tx, arn, tags)
}

func writeTx(ctx context.Context, tx store.Tx, arn string, tags map[string]string) error {
	data, err := json.Marshal(tags)
	if err != nil {
		return err
	}
	rec, err := tx.Get(ctx, Kind, arn)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if len(tags) == 0 {
			return nil
		}
		return tx.Insert(ctx, &store.Record{Kind: Kind, ID: arn, SortKey: arn, Data: data})
	case err != nil:
		return err
	case len(tags) == 0:
		return tx.Delete(ctx, Kind, arn)
	default:
		rec.Data = data
		return tx.Update(ctx, rec)
	}
}

// DeleteTx drops arn's tags inside tx (when its resource is deleted).
func DeleteTx(ctx context.Context, tx store.Tx, arn string) error {
	err := tx.Delete(ctx, Kind, arn)
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
