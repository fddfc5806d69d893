package restjson

import (
	"net/url"
	"sort"
	"strings"
)

// Router matches a request's method and escaped path against the URI
// templates of one service's operations.
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
// inside a label (an ARN) stays inside it. pathMatched reports whether some
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

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
