// Package authz decides who may call what, once, for every API served on
// the main port: the FinSpace control plane (signing name "finspace"),
// FinSpace Data ("finspace-api"), STS ("sts"), S3 ("s3") and the Glue Data
// Catalog ("glue", read-only: the account's IAM principals only).
//
// The decision is structural, like authentication: it depends on the kind
// of principal that signed the request, the service and the operation —
// never on code in a handler. The table (Policy) is the whole model; the
// README renders it, and a test walks every operation of every service for
// every principal kind through the real HTTP handler.
//
// Principals:
//
//   - Root: the server's root credentials — the account's administrator.
//   - AssumedRole: an STS AssumeRole session — an IAM principal of the
//     account, trusted like root.
//   - FinSpaceUser: programmatic credentials of one FinSpace user of one
//     environment (GetProgrammaticAccessCredentials). They are not IAM
//     credentials (the real service issued them for FinSpace Data only):
//     they reach FinSpace Data for their own environment, that
//     environment's working bucket, and STS GetCallerIdentity — nothing
//     else. Every request they sign is checked against the user's and the
//     environment's current state (Authorizer.Live): disabling the user or
//     deleting the environment cuts them off at once, on every API.
//   - ScopedRead: read-only S3 credentials for one bucket prefix (issued
//     for data views): S3 reads under that prefix and GetCallerIdentity.
//
// Access says how far a principal reaches into a service; Own means the
// service applies a resource rule of its own on top (FinSpace Data: the
// user's environment and permissions, see identity.ResolveActor; S3: the
// working bucket or the scoped prefix, see s3gw's access.go).
//
// Later principals (kx users' role sessions, on-cluster node identities)
// get a row of their own here, and the walk test makes a new operation or
// service impossible to add without deciding who may call it.
package authz

import (
	"context"
	"fmt"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/fault"
)

// Services by signing name.
const (
	Finspace     = "finspace"
	FinspaceData = "finspace-api"
	STS          = "sts"
	S3           = "s3"
	Glue         = "glue"
)

// Access is how far a principal kind reaches into a service.
type Access int

const (
	// None: every operation is refused with AccessDenied.
	None Access = iota
	// Own: allowed, within a resource rule the service applies (the
	// principal's environment, bucket or prefix).
	Own
	// Full: every operation on every resource of the account.
	Full
)

func (a Access) String() string {
	switch a {
	case None:
		return "none"
	case Own:
		return "own"
	case Full:
		return "full"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// Rule is one principal kind's access to one service. Except lists
// operations that differ from Access (e.g. STS GetCallerIdentity, which
// every valid credential may call).
type Rule struct {
	Access Access
	Except map[string]Access
}

// For returns the access to operation op.
func (r Rule) For(op string) Access {
	if a, ok := r.Except[op]; ok {
		return a
	}
	return r.Access
}

// Policy is the authorization model: principal kind → service → rule.
// A kind or service missing from it has no access at all.
var Policy = map[auth.PrincipalKind]map[string]Rule{
	auth.Root: {
		Finspace:     {Access: Full},
		FinspaceData: {Access: Own}, // acts as the superuser of the region's only environment
		STS:          {Access: Full},
		S3:           {Access: Full},
		Glue:         {Access: Full},
	},
	auth.AssumedRole: {
		Finspace:     {Access: Full},
		FinspaceData: {Access: Own}, // acts as the user whose apiAccessPrincipalArn is the role
		STS:          {Access: Full},
		S3:           {Access: Full},
		Glue:         {Access: Full},
	},
	// FinSpace users' credentials and scoped S3 read credentials are not
	// IAM principals: the catalog (which names every database and location
	// of the account) is not theirs to read.
	auth.FinSpaceUser: {
		FinspaceData: {Access: Own}, // its own environment, with its user's permissions
		STS:          {Access: None, Except: map[string]Access{"GetCallerIdentity": Full}},
		S3:           {Access: Own}, // its environment's working bucket
	},
	auth.ScopedRead: {
		STS: {Access: None, Except: map[string]Access{"GetCallerIdentity": Full}},
		S3:  {Access: Own}, // reads under its bucket and prefix
	},
}

// PrincipalKinds lists every kind the policy knows, in a stable order
// (for the README table and the walk test).
var PrincipalKinds = []auth.PrincipalKind{auth.Root, auth.AssumedRole, auth.FinSpaceUser, auth.ScopedRead}

// KindName is the name of a principal kind in messages and the README.
func KindName(k auth.PrincipalKind) string {
	switch k {
	case auth.Root:
		return "root credentials"
	case auth.AssumedRole:
		return "STS assumed-role session"
	case auth.FinSpaceUser:
		return "FinSpace user's programmatic credentials"
	case auth.ScopedRead:
		return "scoped S3 read credentials"
	}
	return fmt.Sprintf("principal kind %d", int(k))
}

// Lookup returns the access of kind to op of service.
func Lookup(kind auth.PrincipalKind, service, op string) Access {
	return Policy[kind][service].For(op)
}

// Authorizer applies the policy to requests.
type Authorizer struct {
	// Live reports whether a principal that acts as a FinSpace user may
	// still act: its user exists and is enabled and its environment is
	// CREATED in region. It returns a client-safe fault (AccessDenied)
	// when not. Required when FinSpaceUser principals can sign requests.
	Live func(ctx context.Context, p auth.Principal, region string) error
}

// Authorize is Decide without the access granted: services whose resource
// rules follow from the principal alone (FinSpace Data, STS) use it.
func (a *Authorizer) Authorize(ctx context.Context, caller auth.Caller, service, op string) error {
	_, err := a.Decide(ctx, caller, service, op)
	return err
}

// Decide decides whether caller may call op of service. It returns the
// access granted (Own or Full) or a fault.Denied error whose message names
// the principal and the action, as IAM's AccessDenied messages do.
func (a *Authorizer) Decide(ctx context.Context, caller auth.Caller, service, op string) (Access, error) {
	p := caller.Principal
	access := Lookup(p.Kind, service, op)
	if access == None {
		action := service + ":" + op
		if op == "" {
			action = service + ":*"
		}
		return None, fault.Deniedf("User: %s is not authorized to perform: %s (%s may not call this API).",
			p.ARN, action, KindName(p.Kind))
	}
	if p.Kind == auth.FinSpaceUser {
		if a == nil || a.Live == nil {
			return None, fault.Deniedf("FinSpace user credentials are not accepted by this server.")
		}
		if err := a.Live(ctx, p, caller.Region); err != nil {
			return None, err
		}
	}
	return access, nil
}

// serviceOrder is the column order of Table.
var serviceOrder = []string{Finspace, FinspaceData, STS, S3, Glue}

// scopes says what "own" access means, per principal kind and service,
// in the README's words.
var scopes = map[auth.PrincipalKind]map[string]string{
	auth.Root:         {FinspaceData: "as the superuser of the region's only active environment"},
	auth.AssumedRole:  {FinspaceData: "as the FinSpace user whose apiAccessPrincipalArn is the role"},
	auth.FinSpaceUser: {FinspaceData: "its own environment, with its user's permissions", S3: "its environment's working bucket"},
	auth.ScopedRead:   {S3: "reads under its bucket and prefix"},
}

// Table renders the policy as the README's Markdown table; a test keeps
// the README's copy equal to it.
func Table() string {
	var b []byte
	b = append(b, "| principal | finspace | finspace-data | STS | S3 | Glue |\n|---|---|---|---|---|---|\n"...)
	for _, k := range PrincipalKinds {
		b = append(b, "| "+KindName(k)...)
		for _, svc := range serviceOrder {
			r := Policy[k][svc]
			cell := ""
			switch r.Access {
			case None:
				cell = "—"
			case Full:
				cell = "all"
			case Own:
				cell = scopes[k][svc]
			}
			for op, a := range r.Except {
				if a != None {
					if cell == "—" {
						cell = op
					} else {
						cell += "; " + op
					}
				}
			}
			b = append(b, " | "+cell...)
		}
		b = append(b, " |\n"...)
	}
	return string(b)
}
