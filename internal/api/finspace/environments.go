package finspace

import (
	"context"
	"github.com/openfinspace/openfinspace/internal/api/apiutil"

	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
)

func (a *Adapter) createEnvironment(ctx context.Context, in *finspace.CreateEnvironmentRequest) (*finspace.CreateEnvironmentResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	ci := environment.CreateInput{
		Name: apiutil.Str(in.Name), Description: apiutil.Str(in.Description), KmsKeyID: apiutil.Str(in.KmsKeyId),
		Federation: federationIn(in.FederationParameters), DataBundles: in.DataBundles, Tags: in.Tags,
	}
	if in.FederationMode != nil {
		ci.FederationMode = string(*in.FederationMode)
	}
	if su := in.SuperuserParameters; su != nil {
		ci.Superuser = &environment.Superuser{EmailAddress: apiutil.Str(su.EmailAddress), FirstName: apiutil.Str(su.FirstName), LastName: apiutil.Str(su.LastName)}
	}
	env, err := a.Environments.Create(ctx, reg, ci)
	if err != nil {
		return nil, err
	}
	return &finspace.CreateEnvironmentResponse{EnvironmentId: &env.ID, EnvironmentArn: &env.ARN, EnvironmentUrl: &env.URL}, nil
}

func (a *Adapter) getEnvironment(ctx context.Context, in *finspace.GetEnvironmentRequest) (*finspace.GetEnvironmentResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	env, err := a.Environments.Get(ctx, reg, apiutil.Str(in.EnvironmentId))
	if err != nil {
		return nil, err
	}
	return &finspace.GetEnvironmentResponse{Environment: environmentOut(env)}, nil
}

func (a *Adapter) listEnvironments(ctx context.Context, in *finspace.ListEnvironmentsRequest) (*finspace.ListEnvironmentsResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	scope := "ListEnvironments|" + reg
	cursor, err := apiutil.DecodeToken(a.Pages, scope, in.NextToken)
	if err != nil {
		return nil, err
	}
	page, err := a.Environments.List(ctx, reg, cursor, apiutil.PageLimit(finspace.OperationByName("ListEnvironments"), in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &finspace.ListEnvironmentsResponse{Environments: make([]finspace.Environment, 0, len(page.Items))}
	for _, env := range page.Items {
		out.Environments = append(out.Environments, *environmentOut(env))
	}
	out.NextToken = apiutil.EncodeToken(a.Pages, scope, page.Next)
	return out, nil
}

func (a *Adapter) updateEnvironment(ctx context.Context, in *finspace.UpdateEnvironmentRequest) (*finspace.UpdateEnvironmentResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	ui := environment.UpdateInput{Name: in.Name, Description: in.Description, Federation: federationIn(in.FederationParameters)}
	if in.FederationMode != nil {
		m := string(*in.FederationMode)
		ui.FederationMode = &m
	}
	env, err := a.Environments.Update(ctx, reg, apiutil.Str(in.EnvironmentId), ui)
	if err != nil {
		return nil, err
	}
	return &finspace.UpdateEnvironmentResponse{Environment: environmentOut(env)}, nil
}

func (a *Adapter) deleteEnvironment(ctx context.Context, in *finspace.DeleteEnvironmentRequest) (*finspace.DeleteEnvironmentResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.Environments.Delete(ctx, reg, apiutil.Str(in.EnvironmentId)); err != nil {
		return nil, err
	}
	return &finspace.DeleteEnvironmentResponse{}, nil
}

func federationIn(p *finspace.FederationParameters) *environment.Federation {
	if p == nil {
		return nil
	}
	return &environment.Federation{
		SamlMetadataDocument: apiutil.Str(p.SamlMetadataDocument), SamlMetadataURL: apiutil.Str(p.SamlMetadataURL),
		ApplicationCallBackURL: apiutil.Str(p.ApplicationCallBackURL), FederationURN: apiutil.Str(p.FederationURN),
		FederationProviderName: apiutil.Str(p.FederationProviderName), AttributeMap: p.AttributeMap,
	}
}

func federationOut(f *environment.Federation) *finspace.FederationParameters {
	if f == nil {
		return nil
	}
	return &finspace.FederationParameters{
		SamlMetadataDocument: apiutil.Ptr(f.SamlMetadataDocument), SamlMetadataURL: apiutil.Ptr(f.SamlMetadataURL),
		ApplicationCallBackURL: apiutil.Ptr(f.ApplicationCallBackURL), FederationURN: apiutil.Ptr(f.FederationURN),
		FederationProviderName: apiutil.Ptr(f.FederationProviderName), AttributeMap: f.AttributeMap,
	}
}

// environmentOut is the wire form of env, which the caller owns (the
// environment service hands out copies): its members point into env.
func environmentOut(env *environment.Environment) *finspace.Environment {
	return &finspace.Environment{
		Name: apiutil.Ref(&env.Name), EnvironmentId: apiutil.Ref(&env.ID), AwsAccountId: apiutil.Ref(&env.Account),
		Status: apiutil.Ptr(finspace.EnvironmentStatus(env.Status)), EnvironmentUrl: apiutil.Ref(&env.URL), Description: apiutil.Ref(&env.Description),
		EnvironmentArn: apiutil.Ref(&env.ARN), KmsKeyId: apiutil.Ref(&env.KmsKeyID),
		FederationMode: apiutil.Ptr(finspace.FederationMode(env.FederationMode)), FederationParameters: federationOut(env.Federation),
	}
}
