package auth

import "context"

// Caller is the authenticated identity of one request.
type Caller struct {
	Principal   Principal
	AccessKeyID string
	Region      string // from the SigV4 credential scope
	RequestID   string
}

type callerKey struct{}

// WithCaller returns a context carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller stored by WithCaller.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
