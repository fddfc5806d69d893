package restjson

import (
	"strconv"
	"strings"
)

// PathString returns the unescaped value of URI label name, nil if absent.
func (p Params) PathString(name string) *string {
	v, ok := p.Path[name]
	if !ok {
		return nil
	}
	return &v
}

// QueryString returns the first value of query parameter name, nil if absent.
func (p Params) QueryString(name string) *string {
	vs, ok := p.Query[name]
	if !ok || len(vs) == 0 {
		return nil
	}
	v := vs[0]
	return &v
}

// QueryStrings returns every value of a repeated query parameter, nil if absent.
func (p Params) QueryStrings(name string) []string {
	vs, ok := p.Query[name]
	if !ok {
		return nil
	}
	out := make([]string, len(vs))
	copy(out, vs)
	return out
}

// QueryInt32 parses query parameter name as a 32-bit integer.
func (p Params) QueryInt32(name string) (*int32, error) {
	s := p.QueryString(name)
	if s == nil {
		return nil, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(*s), 10, 32)
	if err != nil {
		return nil, typeError(name, "an integer")
	}
	v := int32(n)
	return &v, nil
}

// QueryInt64 parses query parameter name as a 64-bit integer.
func (p Params) QueryInt64(name string) (*int64, error) {
	s := p.QueryString(name)
	if s == nil {
		return nil, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(*s), 10, 64)
	if err != nil {
		return nil, typeError(name, "an integer")
	}
	return &n, nil
}

// QueryBool parses query parameter name as a boolean.
func (p Params) QueryBool(name string) (*bool, error) {
	s := p.QueryString(name)
	if s == nil {
		return nil, nil
	}
	b, err := strconv.ParseBool(*s)
	if err != nil {
		return nil, typeError(name, "a boolean")
	}
	return &b, nil
}

func typeError(member, want string) error {
	return &ValidationError{Violations: []Violation{{Member: member, Constraint: "Member must be " + want}}}
}
