// Package clienttoken is what the wire runtime and the token memory
// (package idempotency) share about a request's client token: the key of
// its claim, carried in the request's context, and the response kept for
// replay. It imports nothing of ours, so the wire runtime defines the
// interface it calls and the token memory implements it without either
// importing the other.
package clienttoken

import "context"

// Response is a response kept for idempotent replay. Its JSON form is what
// the token memory seals and stores.
type Response struct {
	Status int    `json:"status"`
	Body   []byte `json:"body"`
}

type keyCtx struct{}

// WithKey returns ctx carrying key, the claim of the request ctx belongs
// to (the wire runtime sets it before calling the operation).
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// Key is the claim key set by WithKey, or "" when the request carries no
// client token. The token memory uses it to record, in the operation's
// own transactions, that the operation has taken effect.
func Key(ctx context.Context) string {
	k, _ := ctx.Value(keyCtx{}).(string)
	return k
}
