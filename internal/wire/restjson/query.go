package restjson

import (
	"net/url"
	"strings"
)

// ParseQuery parses a raw query string strictly. It differs from
// url.ParseQuery (and r.URL.Query(), which silently drops the pairs
// url.ParseQuery cannot read) in refusing, as a validation error naming the
// parameter:
//   - a bad percent-escape in a name or a value ("%zz", "%4");
//   - a raw ';', which some proxies and frameworks take for a separator,
//     so two readers of the same URL would see different parameters (SDKs
//     always send it as %3B).
//
// Repeats are kept in order; whether a member may repeat is decided by the
// generated BindParams (only list members may).
func ParseQuery(raw string) (url.Values, error) {
	if raw == "" {
		return nil, nil
	}
	q := make(url.Values, 4)
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, queryError(k, "Member name must be correctly percent-encoded in the query string")
		}
		if strings.IndexByte(k, ';') >= 0 {
			return nil, queryError(key, "Member name must not contain a raw ';' (encode it as %3B)")
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, queryError(key, "Member must be correctly percent-encoded in the query string")
		}
		if strings.IndexByte(v, ';') >= 0 {
			return nil, queryError(key, "Member must not contain a raw ';' (encode it as %3B)")
		}
		q[key] = append(q[key], val)
	}
	return q, nil
}

// maxNamedMember bounds how much of a client-chosen parameter name an
// error message repeats.
const maxNamedMember = 64

func queryError(name, constraint string) error {
	if len(name) > maxNamedMember {
		name = strings.ToValidUTF8(name[:maxNamedMember], "") + "..."
	}
	return &ValidationError{Violations: []Violation{{Member: name, Constraint: constraint}}}
}
