package finspace

import (
	"context"
	"github.com/openfinspace/openfinspace/internal/api/apiutil"

	"github.com/openfinspace/openfinspace/internal/wire/finspace"
)

func (a *Adapter) tagResource(ctx context.Context, in *finspace.TagResourceRequest) (*finspace.TagResourceResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.Tags.Tag(ctx, reg, apiutil.Str(in.ResourceArn), in.Tags); err != nil {
		return nil, err
	}
	return &finspace.TagResourceResponse{}, nil
}

func (a *Adapter) untagResource(ctx context.Context, in *finspace.UntagResourceRequest) (*finspace.UntagResourceResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.Tags.Untag(ctx, reg, apiutil.Str(in.ResourceArn), in.TagKeys); err != nil {
		return nil, err
	}
	return &finspace.UntagResourceResponse{}, nil
}

func (a *Adapter) listTagsForResource(ctx context.Context, in *finspace.ListTagsForResourceRequest) (*finspace.ListTagsForResourceResponse, error) {
	reg, err := region(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := a.Tags.List(ctx, reg, apiutil.Str(in.ResourceArn))
	if err != nil {
		return nil, err
	}
	return &finspace.ListTagsForResourceResponse{Tags: tags}, nil
}
