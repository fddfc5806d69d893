package kx

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/store"
	shapes "github.com/openfinspace/openfinspace/internal/wire/finspace"
)

// Network statuses (model enums TgwStatus and DnsStatus).
const (
	NetworkNone            = "NONE"
	NetworkUpdateRequested = "UPDATE_REQUESTED"
	NetworkUpdating        = "UPDATING"
	NetworkUpdated         = "SUCCESSFULLY_UPDATED"
)

// NetworkInput is one UpdateKxEnvironmentNetwork call. There is no transit
// gateway or DNS here: the domain validates the fields it acts on
// (routableCIDRSpace, the servers' addresses) and records each
// configuration as the client sent it (the validated generated shape), to
// echo it on every read.
type NetworkInput struct {
	// TransitGateway is the transitGatewayConfiguration (nil: unchanged).
	TransitGateway *shapes.TransitGatewayConfiguration
	// CustomDNS is the customDNSConfiguration (nil: unchanged).
	CustomDNS []shapes.CustomDNSServer
}

// cgnat is the range a routable CIDR space must lie in (BEHAVIOR.md §3.6).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func (in NetworkInput) validate() error {
	if in.TransitGateway == nil && in.CustomDNS == nil {
		return fault.Invalidf("Specify transitGatewayConfiguration or customDNSConfiguration.")
	}
	if in.TransitGateway != nil {
		cidr := deref(in.TransitGateway.RoutableCIDRSpace)
		p, err := netip.ParsePrefix(cidr)
		if err != nil || !p.Addr().Is4() {
			return fault.Invalidf("routableCIDRSpace %q is not an IPv4 CIDR block.", cidr)
		}
		if p.Bits() != 26 || p.Masked() != p || !cgnat.Contains(p.Addr()) {
			return fault.Invalidf("routableCIDRSpace %s must be a /26 CIDR block within 100.64.0.0/10.", cidr)
		}
	}
	for _, d := range in.CustomDNS {
		ip := deref(d.CustomDNSServerIP)
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			return fault.Invalidf("customDNSServerIP %q is not an IPv4 address.", ip)
		}
	}
	return nil
}

func networkJob(env *Environment) string {
	return fmt.Sprintf("kxEnvironment/%s/network/%d", env.ID, env.NetworkUpdates)
}

// UpdateNetwork records a network configuration and runs the update:
// UPDATE_NETWORK_REQUESTED → UPDATING_NETWORK → CREATED, with tgwStatus /
// dnsStatus UPDATE_REQUESTED → UPDATING → SUCCESSFULLY_UPDATED for the
// configurations the call carries.
func (s *Service) UpdateNetwork(ctx context.Context, region, id string, in NetworkInput) (*Environment, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	var env *Environment
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var version int64
		var err error
		env, version, err = s.envs.GetIn(ctx, tx, region, id)
		if err != nil {
			return err
		}
		switch {
		case env.Status.deleting():
			return fault.Invalidf("The Environment is in %s state.", env.Status)
		case env.Status != Created:
			return fault.Conflictf("The Environment is in %s state; update its network once it is CREATED.", env.Status)
		}
		if err := env.moveTo(UpdateNetworkRequested); err != nil {
			return err
		}
		if in.TransitGateway != nil {
			env.TransitGateway, env.TgwStatus = in.TransitGateway, NetworkUpdateRequested
		}
		if in.CustomDNS != nil {
			env.CustomDNS, env.DNSStatus = in.CustomDNS, NetworkUpdateRequested
		}
		env.NetworkUpdates++
		now := s.now().UTC()
		env.UpdatedAt, env.NextStepAt = now, now.Add(s.stepDelay)
		if err := s.envs.Update(ctx, tx, env, version); err != nil {
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

// stepNetwork moves the network statuses along with the environment's.
func (e *Environment) stepNetwork(to Status) {
	step := func(st *string) {
		switch {
		case to == UpdatingNetwork && *st == NetworkUpdateRequested:
			*st = NetworkUpdating
		case to == Created && *st == NetworkUpdating:
			*st = NetworkUpdated
		}
	}
	step(&e.TgwStatus)
	step(&e.DNSStatus)
}
