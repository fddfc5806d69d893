package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	wshape "github.com/openfinspace/openfinspace/internal/wire/shape"
)

// pagination computes the Pagination of an operation, nil when its input
// has no page-token member: the paginator's input_token, else nextToken.
func (g *gen) pagination(op *operation) (*wshape.Pagination, error) {
	in, out := g.m.Shapes[op.Input], g.m.Shapes[op.Output]
	find := func(s *shape, name string) *member {
		for _, m := range s.Members {
			if m.Name == name {
				return m
			}
		}
		return nil
	}
	src := g.m.Paginators[op.Name]
	if src == nil {
		src = g.m.SmithyPaginated[op.Name]
	}
	if src == nil {
		src = &paginator{}
	}
	if find(in, cmpOr(src.InputToken, "nextToken")) == nil {
		return nil, nil
	}
	inTok, outTok := cmpOr(src.InputToken, "nextToken"), cmpOr(src.OutputToken, "nextToken")
	limit := src.LimitKey
	if limit == "" && find(in, "maxResults") != nil {
		limit = "maxResults"
	}
	result := src.ResultKey
	if result == "" {
		var lists []string
		for _, m := range out.Members {
			if g.m.Shapes[m.Shape].Type == "list" {
				lists = append(lists, m.Name)
			}
		}
		if len(lists) == 1 {
			result = lists[0]
		}
	}
	p := &wshape.Pagination{LimitMin: -1, LimitMax: -1}
	mem := find(in, inTok)
	if mem == nil {
		return nil, fmt.Errorf("operation %s: pagination input token %q is not an input member", op.Name, inTok)
	}
	p.InputToken = mem.WireName()
	if mem = find(out, outTok); mem == nil {
		return nil, fmt.Errorf("operation %s: pagination output token %q is not an output member", op.Name, outTok)
	}
	p.OutputToken = mem.WireName()
	if limit != "" {
		mem = find(in, limit)
		if mem == nil {
			return nil, fmt.Errorf("operation %s: pagination limit %q is not an input member", op.Name, limit)
		}
		p.LimitKey = mem.WireName()
		ls := g.m.Shapes[mem.Shape]
		if ls.Type != "integer" && ls.Type != "long" {
			return nil, fmt.Errorf("operation %s: pagination limit %q is not an integer", op.Name, limit)
		}
		if ls.Min != nil {
			p.LimitMin, _ = ls.Min.Int64()
		}
		if ls.Max != nil {
			p.LimitMax, _ = ls.Max.Int64()
		}
		p.LimitRequired = slices.Contains(in.Required, limit)
	}
	if result != "" {
		mem = find(out, result)
		if mem == nil || g.m.Shapes[mem.Shape].Type != "list" {
			return nil, fmt.Errorf("operation %s: pagination result %q is not a list member of the output", op.Name, result)
		}
		p.ResultKey = mem.WireName()
	}
	return p, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// operationsFile emits the operation table, OperationByName, Handlers and
// ErrorHTTPStatus.
func (g *gen) operationsFile() (*goFile, error) {
	f := newGoFile("operations_gen.go", g.spec.Package, g.source)
	f.use(shapePkg)
	f.use("context")
	f.use("fmt")
	if g.json() {
		f.p("// Operations lists every operation of the model, sorted by name. Only")
		f.p("// those with NewInput have generated shapes (the generator's subset);")
		f.p("// the others are named so that they can be refused clearly.")
	} else {
		f.p("// Operations lists every operation of the model, sorted by name.")
	}
	f.p("var Operations = []*shape.Operation{")
	for _, name := range g.allOpNames {
		if omitted, ok := g.m.Omitted[name]; ok {
			f.p("{Service: SigningName, Name: %q, Target: %q, Method: %q, URI: %q, SuccessCode: 200},",
				omitted.Name, g.m.Metadata.TargetPrefix+"."+omitted.Name, omitted.Method, omitted.RequestURI)
			continue
		}
		op := g.m.Operations[name]
		code := op.ResponseCode
		if code == 0 {
			code = 200
		}
		f.p("{")
		f.p("Service: SigningName,")
		f.p("Name: %q,", op.Name)
		if g.json() {
			f.p("Target: %q,", g.m.Metadata.TargetPrefix+"."+op.Name)
		}
		f.p("Method: %q,", op.Method)
		f.p("URI: %q,", op.RequestURI)
		f.p("SuccessCode: %d,", code)
		errs := make([]string, len(op.Errors))
		for i, e := range op.Errors {
			errs[i] = strconv.Quote(e)
		}
		f.p("Errors: []string{%s},", strings.Join(errs, ", "))
		if op.Deprecated {
			f.p("Deprecated: true,")
		}
		for _, mem := range g.m.Shapes[op.Input].Members {
			if mem.IdempotencyToken {
				f.p("IdempotencyToken: %q,", mem.WireName())
			}
		}
		pg, err := g.pagination(op)
		if err != nil {
			return nil, err
		}
		if pg != nil {
			f.p("Pagination: &shape.Pagination{")
			f.p("InputToken: %q,", pg.InputToken)
			f.p("OutputToken: %q,", pg.OutputToken)
			f.p("LimitKey: %q,", pg.LimitKey)
			f.p("ResultKey: %q,", pg.ResultKey)
			f.p("LimitMin: %d,", pg.LimitMin)
			f.p("LimitMax: %d,", pg.LimitMax)
			f.p("LimitRequired: %t,", pg.LimitRequired)
			f.p("},")
		}
		f.p("NewInput: func() shape.Input { return new(%s) },", g.typeNames[op.Input])
		f.p("},")
	}
	f.p("}")
	f.p("")
	f.p("// OperationByName returns the operation called name, or nil.")
	f.p("func OperationByName(name string) *shape.Operation {")
	f.p("for _, op := range Operations {")
	f.p("if op.Name == name { return op }")
	f.p("}")
	f.p("return nil")
	f.p("}")
	f.p("")
	if g.json() {
		f.p("var operationsByTarget = func() map[string]*shape.Operation {")
		f.p("m := make(map[string]*shape.Operation, len(Operations))")
		f.p("for _, op := range Operations { m[op.Target] = op }")
		f.p("return m")
		f.p("}()")
		f.p("")
		f.p("// OperationByTarget returns the operation whose X-Amz-Target is target, or nil.")
		f.p("func OperationByTarget(target string) *shape.Operation { return operationsByTarget[target] }")
		f.p("")
	}

	if g.json() {
		f.p("// ErrorHTTPStatus returns the HTTP status of an error shape the generated")
		f.p("// operations declare (400, 500 for a fault), 0 if unknown.")
	} else {
		f.p("// ErrorHTTPStatus returns the HTTP status of an error shape of the model, 0 if unknown.")
	}
	f.p("func ErrorHTTPStatus(shape string) int {")
	f.p("switch shape {")
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if s.IsError {
			status := s.HTTPStatus
			if status == 0 {
				status = 400
				if s.IsFault {
					status = 500
				}
			}
			f.p("case %q: return %d", name, status)
		}
	}
	f.p("}")
	f.p("return 0")
	f.p("}")
	f.p("")

	f.p("// Handlers holds one typed implementation per operation; a nil field is")
	f.p("// an operation without implementation.")
	f.p("type Handlers struct {")
	for _, name := range g.opNames {
		op := g.m.Operations[name]
		f.comment(docLine(op.Documentation))
		f.p("%s func(context.Context, *%s) (*%s, error)", name, g.typeNames[op.Input], g.typeNames[op.Output])
	}
	f.p("}")
	f.p("")
	f.p("// Lookup returns the untyped handler of the operation called name, nil")
	f.p("// when the operation is unknown or its field is nil.")
	f.p("func (h *Handlers) Lookup(name string) shape.HandlerFunc {")
	f.p("if h == nil { return nil }")
	f.p("switch name {")
	for _, name := range g.opNames {
		f.p("case %q: return adapt(%q, h.%s)", name, name, name)
	}
	f.p("}")
	f.p("return nil")
	f.p("}")
	f.p("")
	f.p("// adapt turns a typed operation function into a shape.HandlerFunc. A")
	f.p("// nil output is returned as a nil interface, never as a typed nil.")
	f.p("func adapt[In shape.Input, Out any](name string, fn func(context.Context, In) (*Out, error)) shape.HandlerFunc {")
	f.p("if fn == nil { return nil }")
	f.p("return func(ctx context.Context, in shape.Input) (any, error) {")
	f.p("req, ok := in.(In)")
	f.p("if !ok { return nil, fmt.Errorf(\"%%s: input is %%T, want %%T\", name, in, req) }")
	f.p("out, err := fn(ctx, req)")
	f.p("if out == nil { return nil, err }")
	f.p("return out, err")
	f.p("}")
	f.p("}")
	return f, nil
}
