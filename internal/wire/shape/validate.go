package shape

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Violation is one failed constraint.
type Violation struct {
	Member     string // path of the member, e.g. "superuserParameters.emailAddress"
	Constraint string // e.g. "Member must have length less than or equal to 26"
}

// ValidationError lists the constraint violations of one request. It is
// answered as ValidationException (or InvalidRequestException where the
// operation declares no ValidationException). Values are never echoed: some
// members are sensitive.
type ValidationError struct {
	Violations []Violation
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	n := len(e.Violations)
	if n == 1 {
		b.WriteString("1 validation error detected: ")
	} else {
		fmt.Fprintf(&b, "%d validation errors detected: ", n)
	}
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "Value at '%s' failed to satisfy constraint: %s", v.Member, v.Constraint)
	}
	return b.String()
}

// Validator collects violations. Generated Validate methods call it.
type Validator struct {
	violations []Violation
}

func (v *Validator) add(member, constraint string) {
	v.violations = append(v.violations, Violation{Member: member, Constraint: constraint})
}

// Err returns the collected violations as a *ValidationError, or nil.
func (v *Validator) Err() error {
	if len(v.violations) == 0 {
		return nil
	}
	return &ValidationError{Violations: v.violations}
}

// Required records a violation when a required member is absent.
func (v *Validator) Required(member string, present bool) {
	if !present {
		v.add(member, "Member must not be null")
	}
}

// Len checks a string's length in characters; max < 0 means unbounded.
func (v *Validator) Len(member, s string, min, max int) {
	n := utf8.RuneCountInString(s)
	if n < min {
		v.add(member, "Member must have length greater than or equal to "+strconv.Itoa(min))
	}
	if max >= 0 && n > max {
		v.add(member, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
}

// Size checks the number of items in a list or entries in a map; max < 0
// means unbounded.
func (v *Validator) Size(member string, n, min, max int) {
	if n < min {
		v.add(member, "Member must have at least "+strconv.Itoa(min)+" items")
	}
	if max >= 0 && n > max {
		v.add(member, "Member must have at most "+strconv.Itoa(max)+" items")
	}
}

// Pattern checks s against a model pattern with search (unanchored)
// semantics, as Smithy and the AWS services do.
func (v *Validator) Pattern(member, s string, m Matcher) {
	if !m.Match(s) {
		v.add(member, "Member must satisfy regular expression pattern: "+m.Pattern)
	}
}

// Enum checks that s is one of the allowed values.
func (v *Validator) Enum(member, s string, allowed []string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.add(member, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

// RangeInt checks an integer against optional bounds.
func (v *Validator) RangeInt(member string, n int64, min, max *int64) {
	if min != nil && n < *min {
		v.add(member, "Member must have value greater than or equal to "+strconv.FormatInt(*min, 10))
	}
	if max != nil && n > *max {
		v.add(member, "Member must have value less than or equal to "+strconv.FormatInt(*max, 10))
	}
}

// RangeFloat checks a floating-point number against optional bounds.
func (v *Validator) RangeFloat(member string, f float64, min, max *float64) {
	if min != nil && f < *min {
		v.add(member, "Member must have value greater than or equal to "+strconv.FormatFloat(*min, 'g', -1, 64))
	}
	if max != nil && f > *max {
		v.add(member, "Member must have value less than or equal to "+strconv.FormatFloat(*max, 'g', -1, 64))
	}
}

// Ptr returns a pointer to a bound; generated code uses it for ranges.
func Ptr[T any](v T) *T { return &v }

// Matcher tests a model pattern. Most patterns compile with Go's regexp; the
// few that use lookaround or large repeat counts are matched by hand.
type Matcher struct {
	Pattern string
	re      *regexp.Regexp
	fn      func(string) bool
	memo    *matchMemo
}

// Match reports whether s satisfies the pattern (search semantics).
func (m Matcher) Match(s string) bool {
	if m.fn != nil {
		return m.fn(s)
	}
	if m.memo == nil {
		return m.re.MatchString(s)
	}
	if ok, found := m.memo.get(s); found {
		return ok
	}
	ok := m.re.MatchString(s)
	m.memo.put(s, ok)
	return ok
}

// MustMatcher builds the matcher of a model pattern. It panics if the
// pattern neither compiles nor has a hand-written matcher; the generator
// checks this at generation time, so the panic only fires on a bad edit.
func MustMatcher(pattern string) Matcher {
	if fn, ok := manualPatterns[pattern]; ok {
		return Matcher{Pattern: pattern, fn: fn}
	}
	re2, err := RE2Pattern(pattern)
	if err != nil {
		panic(err)
	}
	m := Matcher{Pattern: pattern, re: regexp.MustCompile(re2)}
	if expensivePattern(re2) {
		m.memo = &matchMemo{}
	}
	return m
}

// expensivePattern reports whether Go's regexp matches pattern slowly: a
// program of more than a few hundred instructions (the models' ARN and id
// patterns, with counted repeats such as {1,255}) is too large for the
// backtracker and runs on the general NFA, at several microseconds per
// match (the largest cost of ListTagsForResource's validation).
func expensivePattern(pattern string) bool {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return false
	}
	prog, err := syntax.Compile(re.Simplify())
	return err == nil && len(prog.Inst) > 500
}

// matchMemo remembers the results of an expensive pattern for the values
// recently validated (resource ARNs and ids repeat from request to request).
// Matching is a pure function of the value, so a remembered result is
// exactly what matching again would give. It is bounded in entries and in
// the length of the values it keeps; when full it drops every entry. One
// memo serves every server in the process, which is harmless for a pure
// function.
type matchMemo struct {
	mu sync.RWMutex
	m  map[string]bool
}

const (
	matchMemoEntries  = 1024
	matchMemoValueLen = 512
)

func (mm *matchMemo) get(s string) (ok, found bool) {
	mm.mu.RLock()
	ok, found = mm.m[s]
	mm.mu.RUnlock()
	return ok, found
}

func (mm *matchMemo) put(s string, ok bool) {
	if len(s) > matchMemoValueLen {
		return
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.m == nil || len(mm.m) >= matchMemoEntries {
		mm.m = make(map[string]bool)
	}
	mm.m[strings.Clone(s)] = ok
}

// HasManualPattern reports whether pattern has a hand-written matcher.
func HasManualPattern(pattern string) bool {
	_, ok := manualPatterns[pattern]
	return ok
}
