package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/store"
)

// ProgrammaticCredentials issues temporary credentials that act as a user
// of environment envID for minutes (1–60):
//   - root credentials get the environment's superuser;
//   - an IAM role session gets the user whose apiAccessPrincipalArn is the
//     role (apiAccess ENABLED; APP_USERs need GetTemporaryCredentials);
//   - a FinSpace user's credentials get fresh credentials for that user.
func (s *Service) ProgrammaticCredentials(ctx context.Context, c auth.Caller, envID string, minutes int64) (*auth.Credential, error) {
	var cred *auth.Credential
	err := s.db.Update(ctx, func(tx store.Tx) error {
		env, err := s.activeEnvironmentTx(ctx, tx, c.Region, envID)
		if err != nil {
			return err
		}
		var u *User
		p := c.Principal
		switch p.Kind {
		case auth.Root:
			u, err = s.superuserTx(ctx, tx, env)
		case auth.AssumedRole:
			u, err = s.userByRoleTx(ctx, tx, env.ID, p.RoleARN)
		case auth.FinSpaceUser:
			if p.EnvironmentID != env.ID {
				return fault.Deniedf("These credentials belong to another environment.")
			}
			u, _, err = s.users.GetIn(ctx, tx, env.ID, p.UserID)
		default:
			return fault.Deniedf("These credentials cannot get programmatic access credentials.")
		}
		if err != nil {
			return err
		}
		a, err := s.actorTx(ctx, tx, env, c.Region, u)
		if err != nil {
			return err
		}
		if p.Kind == auth.AssumedRole && !a.Has(PermGetTemporaryCredentials) {
			return fault.Deniedf("User %s needs the GetTemporaryCredentials permission.", u.ID)
		}
		cred, err = s.creds.IssueTx(ctx, tx, credstore.IssueInput{
			Principal: s.userPrincipal(c.Region, env, u),
			TTL:       time.Duration(minutes) * time.Minute,
			Group:     "user/" + env.ID + "/" + u.ID,
		})
		return err
	})
	return cred, err
}

func (s *Service) userPrincipal(region string, env environment.State, u *User) auth.Principal {
	return auth.Principal{Kind: auth.FinSpaceUser, Account: s.account,
		ARN:           fmt.Sprintf("arn:aws:finspace:%s:%s:user/%s", region, s.account, u.ID),
		EnvironmentID: env.ID, UserID: u.ID}
}
