package finspace

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

func (a *Adapter) createKxEnvironment(ctx context.Context, in *finspace.CreateKxEnvironmentRequest) (*finspace.CreateKxEnvironmentResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	env, err := a.Kx.CreateEnvironment(ctx, reg, kx.CreateInput{Name: apiutil.Str(in.Name),
		Description: apiutil.Str(in.Description), KmsKeyID: apiutil.Str(in.KmsKeyId), Tags: in.Tags})
	if err != nil {
		return nil, err
	}
	return kxEnvironmentOut(env).ToCreateKxEnvironmentResponse(), nil
}

func (a *Adapter) getKxEnvironment(ctx context.Context, in *finspace.GetKxEnvironmentRequest) (*finspace.GetKxEnvironmentResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	env, err := a.Kx.GetEnvironment(ctx, reg, apiutil.Str(in.EnvironmentId))
	if err != nil {
		return nil, err
	}
	return kxEnvironmentOut(env).ToGetKxEnvironmentResponse(), nil
}

func (a *Adapter) listKxEnvironments(ctx context.Context, in *finspace.ListKxEnvironmentsRequest) (*finspace.ListKxEnvironmentsResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	scope := "ListKxEnvironments|" + reg
	cursor, err := apiutil.DecodeToken(a.Pages, scope, in.NextToken)
	if err != nil {
		return nil, err
	}
	page, err := a.Kx.ListEnvironments(ctx, reg, cursor, apiutil.PageLimit(finspace.OperationByName("ListKxEnvironments"), in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &finspace.ListKxEnvironmentsResponse{Environments: make([]finspace.KxEnvironment, 0, len(page.Items))}
	for _, env := range page.Items {
		out.Environments = append(out.Environments, *kxEnvironmentOut(env))
	}
	out.NextToken = apiutil.EncodeToken(a.Pages, scope, page.Next)
	return out, nil
}

func (a *Adapter) updateKxEnvironment(ctx context.Context, in *finspace.UpdateKxEnvironmentRequest) (*finspace.UpdateKxEnvironmentResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	env, err := a.Kx.UpdateEnvironment(ctx, reg, apiutil.Str(in.EnvironmentId), kx.UpdateInput{Name: in.Name, Description: in.Description})
	if err != nil {
		return nil, err
	}
	return kxEnvironmentOut(env).ToUpdateKxEnvironmentResponse(), nil
}

func (a *Adapter) deleteKxEnvironment(ctx context.Context, in *finspace.DeleteKxEnvironmentRequest) (*finspace.DeleteKxEnvironmentResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.Kx.DeleteEnvironment(ctx, reg, apiutil.Str(in.EnvironmentId)); err != nil {
		return nil, err
	}
	return &finspace.DeleteKxEnvironmentResponse{}, nil
}

// kxEnvironmentOut is the wire form of env (the caller's copy).
func kxEnvironmentOut(env *kx.Environment) *finspace.KxEnvironment {
	out := &finspace.KxEnvironment{
		Name: &env.Name, EnvironmentId: &env.ID, AwsAccountId: &env.Account,
		Status:    apiutil.Ptr(finspace.EnvironmentStatus(env.Status)),
		TgwStatus: apiutil.Ptr(finspace.TgwStatus("NONE")), DnsStatus: apiutil.Ptr(finspace.DnsStatus("NONE")),
		Description: apiutil.Ref(&env.Description), EnvironmentArn: &env.ARN, KmsKeyId: apiutil.Ref(&env.KmsKeyID),
		DedicatedServiceAccountId: &env.ServiceAccount,
		CreationTimestamp:         restjson.NewTimestamp(env.CreatedAt), UpdateTimestamp: restjson.NewTimestamp(env.UpdatedAt),
		AvailabilityZoneIds: env.AvailabilityZoneIDs, CertificateAuthorityArn: &env.CertificateAuthorityARN,
		ErrorMessage: apiutil.Ref(&env.ErrorMessage),
	}
	networkOut(env, out)
	return out
}

func (a *Adapter) updateKxEnvironmentNetwork(ctx context.Context, in *finspace.UpdateKxEnvironmentNetworkRequest) (*finspace.UpdateKxEnvironmentNetworkResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	ni := kx.NetworkInput{TransitGateway: in.TransitGatewayConfiguration, CustomDNS: in.CustomDNSConfiguration}
	env, err := a.Kx.UpdateNetwork(ctx, reg, apiutil.Str(in.EnvironmentId), ni)
	if err != nil {
		return nil, err
	}
	return kxEnvironmentOut(env).ToUpdateKxEnvironmentNetworkResponse(), nil
}

// networkOut echoes the recorded network configurations (the shapes the
// client sent) and their statuses.
func networkOut(env *kx.Environment, out *finspace.KxEnvironment) {
	out.TransitGatewayConfiguration, out.CustomDNSConfiguration = env.TransitGateway, env.CustomDNS
	if env.TgwStatus != "" {
		out.TgwStatus = apiutil.Ptr(finspace.TgwStatus(env.TgwStatus))
	}
	if env.DNSStatus != "" {
		out.DnsStatus = apiutil.Ptr(finspace.DnsStatus(env.DNSStatus))
	}
}
