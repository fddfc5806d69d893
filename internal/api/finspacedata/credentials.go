package finspacedata

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// defaultCredentialMinutes is the duration when durationInMinutes is absent.
const defaultCredentialMinutes = 60

func (a *Adapter) getProgrammaticAccessCredentials(ctx context.Context, in *finspacedata.GetProgrammaticAccessCredentialsRequest) (*finspacedata.GetProgrammaticAccessCredentialsResponse, error) {
	c, ok := auth.CallerFrom(ctx)
	if !ok {
		return nil, fault.Deniedf("The request has no authenticated caller.")
	}
	minutes := int64(defaultCredentialMinutes)
	if in.DurationInMinutes != nil {
		minutes = *in.DurationInMinutes
	}
	cred, err := a.Identity.ProgrammaticCredentials(ctx, c, apiutil.Str(in.EnvironmentId), minutes)
	if err != nil {
		return nil, err
	}
	return &finspacedata.GetProgrammaticAccessCredentialsResponse{
		Credentials:       &finspacedata.Credentials{AccessKeyId: &cred.AccessKeyID, SecretAccessKey: &cred.SecretAccessKey, SessionToken: &cred.SessionToken},
		DurationInMinutes: &minutes,
	}, nil
}
