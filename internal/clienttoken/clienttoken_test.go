package clienttoken

import (
	"context"
	"testing"
)

func TestKey(t *testing.T) {
	ctx := context.Background()
	if k := Key(ctx); k != "" {
		t.Fatalf("no key: %q", k)
	}
	ctx = WithKey(ctx, "finspace|CreateKxUser|arn|us-east-1|tok")
	if k := Key(ctx); k != "finspace|CreateKxUser|arn|us-east-1|tok" {
		t.Fatalf("key %q", k)
	}
	if k := Key(context.WithoutCancel(ctx)); k == "" {
		t.Fatal("key lost by WithoutCancel")
	}
}
