package shape

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

// QueryString returns the value of the single-valued query parameter name,
// nil if absent. A parameter given more than once is a validation error:
// the model binds it to one member, and picking one of the values silently
// would let the signed request mean something else than the server read.
func (p Params) QueryString(name string) (*string, error) {
	vs, ok := p.Query[name]
	if !ok || len(vs) == 0 {
		return nil, nil
	}
	if len(vs) > 1 {
		return nil, &ValidationError{Violations: []Violation{{Member: name,
			Constraint: "Member must be given at most once (the query string repeats it " + strconv.Itoa(len(vs)) + " times)"}}}
	}
	v := vs[0]
	return &v, nil
}

// QueryEnum is QueryString for a member of an enum type.
func QueryEnum[T ~string](p Params, name string) (*T, error) {
	s, err := p.QueryString(name)
	if s == nil || err != nil {
		return nil, err
	}
	v := T(*s)
	return &v, nil
}

// QueryStrings returns every value of a repeated (list) query parameter,
// nil if absent.
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
	s, err := p.QueryString(name)
	if s == nil || err != nil {
		return nil, err
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
	s, err := p.QueryString(name)
	if s == nil || err != nil {
		return nil, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(*s), 10, 64)
	if err != nil {
		return nil, typeError(name, "an integer")
	}
	return &n, nil
}

// QueryBool parses query parameter name as a boolean.
func (p Params) QueryBool(name string) (*bool, error) {
	s, err := p.QueryString(name)
	if s == nil || err != nil {
		return nil, err
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
