package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/glue"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/wire/awsjson"
	wglue "github.com/openfinspace/openfinspace/internal/wire/glue"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
	"github.com/openfinspace/openfinspace/internal/wire/shape"
)

// glueCatalog is the Server field's type, named here so that server.go
// needs no import of its own for it.
type glueCatalog = glue.Catalog

// buildGlue makes the account's Glue Data Catalog, on the metadata store.
func (s *Server) buildGlue(pages *paging.Codec, now func() time.Time) {
	s.glue = glue.New(glue.Config{Store: s.db, Pages: pages, Account: s.cfg.AccountID, Now: now})
}

// Glue is the server's Glue Data Catalog: its components (data views)
// register databases, tables and partitions through it; clients read them
// on the main port (signing name "glue").
func (s *Server) Glue() *glue.Catalog { return s.glue }

// glueReadOperations are the operations the catalog serves, for the
// refusal of the others.
var glueReadOperations = func() string {
	var names []string
	for _, op := range wglue.Operations {
		if op.NewInput != nil {
			names = append(names, op.Name)
		}
	}
	return strings.Join(names, ", ")
}()

// glueHandler is the Glue endpoint (awsJson 1.1): the six catalog reads,
// verified by the server's SigV4 verifier and authorized by the one
// policy; every other Glue operation answers OperationNotSupportedException.
func (s *Server) glueHandler() http.Handler {
	impl := &wglue.Handlers{}
	s.glue.Register(impl)
	h := &awsjson.Handler{
		Service: &awsjson.Service{
			SigningName: wglue.SigningName, TargetPrefix: wglue.TargetPrefix, Operations: wglue.Operations,
			Lookup: impl.Lookup, ErrorStatus: wglue.ErrorHTTPStatus,
			Unsupported: func(op *shape.Operation) error {
				// A model shape ("The operation is not available in the
				// region"), so boto3 raises it as
				// client.exceptions.OperationNotSupportedException.
				return &awsjson.APIError{Status: http.StatusBadRequest, Code: "OperationNotSupportedException",
					Message: "openfinspace serves the Glue Data Catalog read-only (" + glueReadOperations + "); " + op.Name + " is not supported."}
			},
		},
		Auth:     glueAuthenticator{&authenticator{v: s.verifier}},
		Authz:    s.authz,
		Observer: s.metrics,
		Logger:   s.log,
		// The six read inputs are small.
		MaxBodyBytes: 256 << 10,
	}
	h.Init()
	return h
}

// glueAuthenticator is the rest-json authenticator with its wire errors in
// awsJson form.
type glueAuthenticator struct{ a *authenticator }

func (g glueAuthenticator) Authenticate(ctx context.Context, r *http.Request, body []byte) (auth.Caller, error) {
	c, err := g.a.Authenticate(ctx, r, body)
	var ae *restjson.APIError
	if errors.As(err, &ae) {
		return c, &awsjson.APIError{Status: ae.Status, Code: ae.Code, Message: ae.Message}
	}
	return c, err
}
