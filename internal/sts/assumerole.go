package sts

import (
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
)

// Constraints of the STS model (service-2.json, 2011-06-15).
var (
	// RoleSessionName, SourceIdentity: [\w+=,.@-]*
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]*$`)
	// ExternalId: [\w+=,.@:\/-]*
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
	// SerialNumber: [\w+=/:,.@-]*
	serialNumberRE = regexp.MustCompile(`^[\w+=/:,.@-]*$`)
	tokenCodeRE    = regexp.MustCompile(`^[0-9]*$`)
	// IAM role names: [\w+=,.@-]{1,64}; paths: printable ASCII.
	roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	rolePathRE = regexp.MustCompile(`^/(?:[\x21-\x7e]+/)?$`)
	accountRE  = regexp.MustCompile(`^[0-9]{12}$`)
)

// RoleARN is a parsed IAM role ARN.
type RoleARN struct {
	Partition string // "aws"
	Account   string
	Path      string // "/" or "/a/b/"
	Name      string
}

// String returns the ARN.
func (a RoleARN) String() string {
	return "arn:" + a.Partition + ":iam::" + a.Account + ":role" + a.Path + a.Name
}

// ParseRoleARN parses arn:<partition>:iam::<account>:role/<path/>name.
func ParseRoleARN(s string) (RoleARN, error) {
	bad := func(why string) (RoleARN, error) {
		return RoleARN{}, fmt.Errorf("%s is not a role ARN (arn:aws:iam::<account>:role/<name>): %s", quote(s), why)
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return bad("it does not have the six colon-separated fields of an ARN")
	}
	a := RoleARN{Partition: parts[1], Account: parts[4]}
	switch {
	case a.Partition == "":
		return bad("the partition is empty")
	case parts[2] != "iam":
		return bad("the service is not iam")
	case parts[3] != "":
		return bad("IAM ARNs have no region")
	case !accountRE.MatchString(a.Account):
		return bad("the account is not 12 digits")
	}
	res, ok := strings.CutPrefix(parts[5], "role/")
	if !ok {
		return bad("the resource does not start with role/")
	}
	i := strings.LastIndexByte(res, '/')
	a.Path, a.Name = "/"+res[:i+1], res[i+1:]
	if !roleNameRE.MatchString(a.Name) {
		return bad("the role name must be 1 to 64 characters of letters, digits and +=,.@_-")
	}
	if len(a.Path) > 512 || !rolePathRE.MatchString(a.Path) {
		return bad("the role path must be at most 512 printable characters")
	}
	return a, nil
}

// RoleID returns the stable role id of a role ARN: AROA followed by 17
// upper-case letters derived from the ARN.
func RoleID(roleARN string) string {
	sum := sha256.Sum256([]byte("openfinspace role id\x00" + roleARN))
	b := make([]byte, 0, 21)
	b = append(b, "AROA"...)
	for i := range 17 {
		b = append(b, 'A'+sum[i]%26)
	}
	return string(b)
}

// AssumedRoleARN returns the ARN of a session of role.
func AssumedRoleARN(role RoleARN, sessionName string) string {
	return "arn:" + role.Partition + ":sts::" + role.Account + ":assumed-role/" + role.Name + "/" + sessionName
}

// SessionInput is the credential AssumeRole issues for role and sessionName
// (in role's account), valid for ttl.
func SessionInput(role RoleARN, sessionName string, ttl time.Duration) credstore.IssueInput {
	arn := role.String()
	return credstore.IssueInput{
		Principal: auth.Principal{
			Kind:    auth.AssumedRole,
			Account: role.Account,
			ARN:     AssumedRoleARN(role, sessionName),
			RoleARN: arn,
		},
		TTL:   ttl,
		Group: "sts/" + arn,
	}
}

type assumeRoleResponse struct {
	XMLName  xml.Name         `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result   assumeRoleResult `xml:"AssumeRoleResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type assumeRoleResult struct {
	Credentials      credentials     `xml:"Credentials"`
	AssumedRoleUser  assumedRoleUser `xml:"AssumedRoleUser"`
	PackedPolicySize int             `xml:"PackedPolicySize"`
}

type credentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// assumeRoleInput is AssumeRole's validated input.
type assumeRoleInput struct {
	role        RoleARN
	roleARN     string
	sessionName string
	duration    time.Duration
	durationSet bool
}

// param returns the first value of name, or nil when it is absent.
func param(p map[string][]string, name string) *string {
	if vs, ok := p[name]; ok && len(vs) > 0 {
		return &vs[0]
	}
	return nil
}

// checkString applies the model's length (in characters) and pattern
// constraints to an optional or required string member.
func checkString(v *validationError, value *string, member string, required bool, min, max int, pattern *regexp.Regexp, patternText string) {
	if value == nil {
		if required {
			v.add(nil, member, "Member must not be null")
		}
		return
	}
	n := len([]rune(*value))
	switch {
	case n < min:
		v.add(value, member, "Member must have length greater than or equal to "+strconv.Itoa(min))
	case max > 0 && n > max:
		v.add(value, member, "Member must have length less than or equal to "+strconv.Itoa(max))
	case pattern != nil && !pattern.MatchString(*value):
		v.add(value, member, "Member must satisfy regular expression pattern: "+patternText)
	}
}

// validArnChars is the model's pattern for RoleArn: printable characters,
// tab, CR and LF.
func validArnChars(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
	}
	return true
}

// validPolicyChars is the model's pattern for Policy:
// [\u0009\u000A\u000D\u0020-\u00FF]+.
func validPolicyChars(s string) bool {
	for _, r := range s {
		if r > 0xff || r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

func parseAssumeRole(p map[string][]string) (*assumeRoleInput, *Error) {
	var v validationError
	in := &assumeRoleInput{duration: DefaultDuration}

	roleARN := param(p, "RoleArn")
	checkString(&v, roleARN, "roleArn", true, 20, 2048, nil, "")
	if roleARN != nil && len(v) == 0 {
		if !validArnChars(*roleARN) {
			v.add(roleARN, "roleArn", `Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+`)
		} else if role, err := ParseRoleARN(*roleARN); err != nil {
			v.add(roleARN, "roleArn", "Member must be a role ARN of the form arn:aws:iam::<account>:role/<name>")
		} else {
			in.role, in.roleARN = role, *roleARN
		}
	}
	name := param(p, "RoleSessionName")
	checkString(&v, name, "roleSessionName", true, 2, 64, sessionNameRE, `[\w+=,.@-]*`)
	if name != nil {
		in.sessionName = *name
	}
	if d := param(p, "DurationSeconds"); d != nil {
		n, err := strconv.ParseInt(strings.TrimSpace(*d), 10, 64)
		switch {
		case err != nil:
			v.add(d, "durationSeconds", "Member must be an integer")
		case n < int64(MinDuration/time.Second):
			v.add(d, "durationSeconds", "Member must have value greater than or equal to 900")
		case n > int64(MaxDuration/time.Second):
			v.add(d, "durationSeconds", "Member must have value less than or equal to 43200")
		default:
			in.duration, in.durationSet = time.Duration(n)*time.Second, true
		}
	}
	// Accepted and ignored, but held to the model's constraints.
	checkString(&v, param(p, "ExternalId"), "externalId", false, 2, 1224, externalIDRE, `[\w+=,.@:\/-]*`)
	if pol := param(p, "Policy"); pol != nil {
		checkString(&v, pol, "policy", false, 1, 2048, nil, "")
		if len(*pol) > 0 && !validPolicyChars(*pol) {
			v.add(pol, "policy", `Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+`)
		}
	}
	checkString(&v, param(p, "SourceIdentity"), "sourceIdentity", false, 2, 64, sessionNameRE, `[\w+=,.@-]*`)
	checkString(&v, param(p, "SerialNumber"), "serialNumber", false, 9, 256, serialNumberRE, `[\w+=/:,.@-]*`)
	checkString(&v, param(p, "TokenCode"), "tokenCode", false, 6, 6, tokenCodeRE, `[\d]*`)
	if err := v.err(); err != nil {
		return nil, err
	}
	return in, nil
}

// authorizeAssumeRole applies the trust rule: the root principal and the
// assumed-role sessions of this account may assume any role of this
// account; nobody else may assume anything.
func (h *Handler) authorizeAssumeRole(caller auth.Principal, in *assumeRoleInput) *Error {
	denied := &Error{Status: http.StatusForbidden, Code: "AccessDenied",
		Message: fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, in.roleARN)}
	switch {
	case caller.Kind != auth.Root && caller.Kind != auth.AssumedRole:
		return denied
	case caller.Account != h.Account:
		return denied
	case in.role.Partition != "aws" || in.role.Account != h.Account:
		return denied
	}
	if caller.Kind == auth.AssumedRole && in.durationSet && in.duration > MaxChainedDuration {
		return &Error{Status: http.StatusBadRequest, Code: "ValidationError",
			Message: "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."}
	}
	return nil
}

func (h *Handler) assumeRole(ctx context.Context, req *request) (any, *Error, error) {
	in, verr := parseAssumeRole(req.params)
	if verr != nil {
		return nil, verr, nil
	}
	caller := req.res.Principal
	if aerr := h.authorizeAssumeRole(caller, in); aerr != nil {
		return nil, aerr, nil
	}
	// Issue with the ARN as given (validated, so it equals in.role.String()).
	issue := SessionInput(in.role, in.sessionName, in.duration)
	cred, err := h.Credentials.Issue(ctx, issue)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing session credentials: %w", err)
	}
	if cred == nil {
		return nil, nil, errors.New("issuing session credentials: no credential")
	}
	h.logger().InfoContext(ctx, "sts: role assumed", "request_id", req.id, "caller", caller.ARN,
		"role_arn", in.roleARN, "session", in.sessionName, "access_key_id", cred.AccessKeyID,
		"expires", cred.Expires.UTC().Format(time.RFC3339))
	return &assumeRoleResponse{
		Result: assumeRoleResult{
			Credentials: credentials{
				AccessKeyID:     cred.AccessKeyID,
				SecretAccessKey: cred.SecretAccessKey,
				SessionToken:    cred.SessionToken,
				Expiration:      formatTime(cred.Expires),
			},
			AssumedRoleUser: assumedRoleUser{
				AssumedRoleID: RoleID(in.roleARN) + ":" + in.sessionName,
				Arn:           issue.Principal.ARN,
			},
		},
		Metadata: responseMetadata{RequestID: req.id},
	}, nil, nil
}

// formatTime is the ISO 8601 form STS uses for timestamps.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func itoa(n int) string { return strconv.Itoa(n) }
