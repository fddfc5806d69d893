package restjson

import (
	"net/url"
	"sort"
	"strings"
)

// Router matches a request's method and escaped path against the URI
// templates of one service's operations.
//
// Matching is strict: every "/" of the path separates two segments, so a
// trailing slash ("/environment/") or an empty segment ("/environment//x")
// is a segment of its own, never dropped. Such a path matches a template
// only where the template has a label there; the label is then empty, which
// Explain reports (ValidationException naming the label, what a client that
// fills the template with an empty value has asked for). Any other path no
// template fits is UnknownOperationException (404).
type Router struct {
	routes []route
}

type route struct {
	op       *Operation
	segments []segment
	literals int
}

type segment struct {
	literal string
	label   string // non-empty for {label}
}

// NewRouter compiles the URI templates of ops. Templates with more literal
// segments win over ones with labels in the same position.
func NewRouter(ops []*Operation) *Router {
	r := &Router{}
	for _, op := range ops {
		rt := route{op: op}
		for _, s := range splitPath(op.URI) {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				rt.segments = append(rt.segments, segment{label: strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")})
			} else {
				rt.segments = append(rt.segments, segment{literal: s})
				rt.literals++
			}
		}
		r.routes = append(r.routes, rt)
	}
	sort.SliceStable(r.routes, func(i, j int) bool { return r.routes[i].literals > r.routes[j].literals })
	return r
}

// Match finds the operation for method and escapedPath (r.URL.EscapedPath()).
// Labels are unescaped after the path is split, so a percent-encoded "/"
// inside a label (an ARN) stays inside it. A label must be non-empty and
// correctly escaped (see Explain). pathMatched reports whether some
// operation has this path with another method.
func (r *Router) Match(method, escapedPath string) (op *Operation, labels map[string]string, pathMatched bool) {
	parts := splitPath(escapedPath)
outer:
	for i := range r.routes {
		rt := &r.routes[i]
		if len(rt.segments) != len(parts) {
			continue
		}
		var found map[string]string
		for j, seg := range rt.segments {
			if seg.label == "" {
				if seg.literal != parts[j] {
					continue outer
				}
				continue
			}
			v, err := url.PathUnescape(parts[j])
			if err != nil || v == "" {
				continue outer
			}
			if found == nil {
				found = make(map[string]string, 3)
			}
			found[seg.label] = v
		}
		if rt.op.Method != method {
			pathMatched = true
			continue
		}
		return rt.op, found, true
	}
	return nil, nil, pathMatched
}

// LabelProblem says what is wrong with a URI label Explain names.
type LabelProblem int

const (
	LabelOK        LabelProblem = iota
	LabelEmpty                  // "/environment/" for /environment/{environmentId}
	LabelBadEscape              // "/tags/arn%3" or "/user/%zz"
)

// Explain is called when Match found nothing: it finds the operation of
// method whose template the path fits except for labels that are empty or
// not correctly percent-encoded, and names the first such label. op is nil
// when no template fits the path even so.
func (r *Router) Explain(method, escapedPath string) (op *Operation, label string, problem LabelProblem) {
	parts := splitPath(escapedPath)
outer:
	for i := range r.routes {
		rt := &r.routes[i]
		if len(rt.segments) != len(parts) || rt.op.Method != method {
			continue
		}
		label, problem = "", LabelOK
		for j, seg := range rt.segments {
			if seg.label == "" {
				if seg.literal != parts[j] {
					continue outer
				}
				continue
			}
			if problem != LabelOK {
				continue
			}
			if parts[j] == "" {
				label, problem = seg.label, LabelEmpty
			} else if _, err := url.PathUnescape(parts[j]); err != nil {
				label, problem = seg.label, LabelBadEscape
			}
		}
		if problem != LabelOK {
			return rt.op, label, problem
		}
	}
	return nil, "", LabelOK
}

// LabelError is the validation error of a label Explain named.
func LabelError(label string, problem LabelProblem) error {
	constraint := "Member must not be empty (the URI path has an empty segment for it)"
	if problem == LabelBadEscape {
		constraint = "Member must be correctly percent-encoded in the URI path"
	}
	return &ValidationError{Violations: []Violation{{Member: label, Constraint: constraint}}}
}

// splitPath splits an escaped path at every "/" after the leading one.
func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
