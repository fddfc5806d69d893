package shape

import (
	"regexp"
	"strings"
)

// manualPatterns holds matchers for the model patterns Go's RE2 engine
// cannot compile (lookahead, repeat counts above 1000). Each is rewritten
// into an equivalent RE2 expression plus explicit checks. Read-only.
var manualPatterns = map[string]func(string) bool{
	// TagKey: a key that does not start with "aws:".
	`^(?!aws:)[a-zA-Z+-=._:/]+$`: func(s string) bool {
		return !strings.HasPrefix(s, "aws:") && tagKeyBody.MatchString(s)
	},
	// ExecutionRoleArn: {1,1017} exceeds RE2's repeat limit of 1000.
	`^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w-\/.@+=,]{1,1017}$`: func(s string) bool {
		m := executionRoleArn.FindStringSubmatch(s)
		return m != nil && len(m[1]) >= 1 && len(m[1]) <= 1017
	},
	// KxCommandLineArgumentKey: the alternation is not grouped, so it reads
	// (^(?![Aa][Ww][Ss])(s|([a-zA-Z][a-zA-Z0-9_]+))) | (AWS_ZIP_DEFAULT),
	// both with search semantics.
	`^(?![Aa][Ww][Ss])(s|([a-zA-Z][a-zA-Z0-9_]+))|(AWS_ZIP_DEFAULT)`: func(s string) bool {
		if strings.Contains(s, "AWS_ZIP_DEFAULT") {
			return true
		}
		if len(s) >= 3 && strings.EqualFold(s[:3], "aws") {
			return false
		}
		return cmdArgKeyHead.MatchString(s)
	},
}

var (
	tagKeyBody       = regexp.MustCompile(`^[a-zA-Z+-=._:/]+$`)
	executionRoleArn = regexp.MustCompile(`^arn:aws[a-z0-9-]*:iam::\d{12}:role\/([\w-\/.@+=,]+)$`)
	cmdArgKeyHead    = regexp.MustCompile(`^(s|([a-zA-Z][a-zA-Z0-9_]+))`)
)
