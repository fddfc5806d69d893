package s3gw

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	vgwauth "github.com/versity/versitygw/auth"
	"github.com/versity/versitygw/s3err"

	"github.com/openfinspace/openfinspace/internal/auth"
)

// deriveKey is SigV4's signing key: HMAC chain over date, region, service.
func deriveKey(secret, date, region, service string) []byte {
	h := func(key []byte, data string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(data))
		return m.Sum(nil)
	}
	k := h([]byte("AWS4"+secret), date)
	k = h(k, region)
	k = h(k, service)
	return h(k, "aws4_request")
}

// signingKey answers the gateway's key requests from the server's
// credential chain (root, STS sessions, FinSpace users, scoped reads): the
// secret never leaves this process, only the day-, region- and
// service-scoped signing key does.
func (g *Gateway) signingKey(req *keyRequest) *keyResponse {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cred, err := g.cfg.Credentials.LookupAccessKey(ctx, req.Access)
	if errors.Is(err, auth.ErrUnknownAccessKey) {
		return &keyResponse{Error: keyErrNoSuchUser}
	}
	if err != nil {
		g.log.Error("s3 gateway: looking up an access key", "error", err)
		return &keyResponse{Error: "internal error looking up the access key"}
	}
	if cred.SessionToken != "" {
		if req.Token == "" || subtle.ConstantTimeCompare([]byte(req.Token), []byte(cred.SessionToken)) != 1 {
			return &keyResponse{Error: keyErrBadToken}
		}
	} else if req.Token != "" {
		return &keyResponse{Error: keyErrBadToken}
	}
	if !cred.Expires.IsZero() && !g.cfg.Now().Before(cred.Expires) {
		return &keyResponse{Error: keyErrExpired}
	}
	return &keyResponse{Key: deriveKey(cred.SecretAccessKey, req.Date, req.Region, req.Service), Expires: cred.Expires}
}

// childIAM is the gateway's IAM service inside the gateway process: every
// access key is resolved by the parent (keys channel); the results are
// cached briefly. Every principal it accepts acts as the account (admin
// role, the account id as bucket owner); FinSpace users and scoped read
// credentials are restricted by the parent before requests get here (see
// access.go).
type childIAM struct {
	rpc     *rpcClient
	account string

	mu    sync.Mutex
	cache map[keyRequest]cachedKey
}

type cachedKey struct {
	key   []byte
	until time.Time
}

// keyCacheTTL bounds how long a revoked or deleted credential keeps
// working in the gateway process.
const keyCacheTTL = 30 * time.Second

var (
	_ vgwauth.IAMService         = (*childIAM)(nil)
	_ vgwauth.SigningKeyProvider = (*childIAM)(nil)
	_ vgwauth.FixedBucketOwner   = (*childIAM)(nil)
)

func newChildIAM(rpc *rpcClient, account string) *childIAM {
	return &childIAM{rpc: rpc, account: account, cache: map[keyRequest]cachedKey{}}
}

func (c *childIAM) accountIdentity() vgwauth.Account {
	return vgwauth.Account{Access: c.account, Role: vgwauth.RoleAdmin}
}

// DeriveSigningKey implements vgwauth.SigningKeyProvider.
func (c *childIAM) DeriveSigningKey(access, sessionToken, date, region, service string) ([]byte, vgwauth.Account, error) {
	// The arguments may alias the router's request buffers (fiber/fasthttp
	// strings), which the next request overwrites: a cache key made of them
	// would change under the map, and a later request's key would find
	// another credential's signing key (SignatureDoesNotMatch).
	req := keyRequest{Access: strings.Clone(access), Token: strings.Clone(sessionToken), Date: strings.Clone(date),
		Region: strings.Clone(region), Service: strings.Clone(service)}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.cache[req]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.key, c.accountIdentity(), nil
	}
	var resp keyResponse
	if err := c.rpc.call(&req, &resp); err != nil {
		return nil, vgwauth.Account{}, s3err.GetAPIError(s3err.ErrInternalError)
	}
	switch resp.Error {
	case "":
	case keyErrNoSuchUser:
		return nil, vgwauth.Account{}, vgwauth.ErrNoSuchUser
	case keyErrBadToken:
		return nil, vgwauth.Account{}, vgwauth.ErrInvalidSessionToken
	case keyErrExpired:
		return nil, vgwauth.Account{}, s3err.APIError{Code: "ExpiredToken",
			Description: "The provided token has expired.", HTTPStatusCode: http.StatusBadRequest}
	default:
		return nil, vgwauth.Account{}, s3err.GetAPIError(s3err.ErrInternalError)
	}
	until := now.Add(keyCacheTTL)
	if !resp.Expires.IsZero() && resp.Expires.Before(until) {
		until = resp.Expires
	}
	c.mu.Lock()
	if len(c.cache) >= 4096 {
		clear(c.cache)
	}
	c.cache[req] = cachedKey{key: resp.Key, until: until}
	c.mu.Unlock()
	return resp.Key, c.accountIdentity(), nil
}

// BucketOwner implements vgwauth.FixedBucketOwner: the account owns every
// bucket, whoever created it.
func (c *childIAM) BucketOwner() vgwauth.Account { return c.accountIdentity() }

func (c *childIAM) CreateAccount(vgwauth.Account) error {
	return s3err.GetAPIError(s3err.ErrAdminMethodNotSupported)
}

// GetUserAccount knows only the account itself (as an owner, never with a
// secret).
func (c *childIAM) GetUserAccount(access string) (vgwauth.Account, error) {
	if access == c.account {
		return c.accountIdentity(), nil
	}
	return vgwauth.Account{}, vgwauth.ErrNoSuchUser
}

func (c *childIAM) ResolveAccounts(ids []string) ([]string, error) {
	missing := []string{}
	for _, id := range ids {
		if id != c.account {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

func (c *childIAM) UpdateUserAccount(string, vgwauth.MutableProps) error {
	return s3err.GetAPIError(s3err.ErrAdminMethodNotSupported)
}

func (c *childIAM) DeleteUserAccount(string) error {
	return s3err.GetAPIError(s3err.ErrAdminMethodNotSupported)
}

func (c *childIAM) ListUserAccounts() ([]vgwauth.Account, error) { return nil, nil }

func (c *childIAM) Shutdown() error { return nil }
