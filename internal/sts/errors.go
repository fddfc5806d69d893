package sts

import (
	"encoding/xml"
	"net/http"

	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
)

// Error is an STS error response: the HTTP status, the code and the
// message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// FromSigV4 maps a SigV4 verification failure to the code real STS sends
// for it (the codes botocore, the CLI and the SDKs see from
// sts.amazonaws.com). STS speaks the Query protocol, whose vocabulary
// differs from the JSON services' one the verifier uses:
//
//	verifier (JSON services)                 STS
//	403 MissingAuthenticationTokenException  403 MissingAuthenticationToken
//	403 IncompleteSignatureException         400 IncompleteSignature
//	400 AuthorizationQueryParametersError    400 IncompleteSignature (malformed presigned query)
//	400 InvalidArgument                      400 IncompleteSignature (header and query auth;
//	                                             bad X-Amz-Content-Sha256 value)
//	403 UnrecognizedClientException          403 InvalidClientTokenId (unknown key, bad token)
//	403 InvalidSignatureException            403 SignatureDoesNotMatch (also clock skew:
//	                                             "Signature expired: ...", as STS says)
//	403 AccessDeniedException                400 RequestExpired (presigned URL expired or
//	                                             not yet valid)
//	403 ExpiredTokenException                403 ExpiredToken
//	400 XAmzContentSHA256Mismatch            403 SignatureDoesNotMatch
//	501 NotImplemented                       501 NotImplemented (aws-chunked payloads)
//
// ExpiredToken is answered with 403, which is what STS and IAM send for an
// expired session token (the ExpiredTokenException/400 in the STS model is
// the AssumeRoleWithSAML/WebIdentity error for an expired identity-provider
// token). Messages are the verifier's, which never contain secrets,
// signatures or tokens. A code the table does not know passes through.
func FromSigV4(e *sigv4.Error) *Error {
	if e == nil {
		return nil
	}
	m := func(status int, code string) *Error { return &Error{Status: status, Code: code, Message: e.Message} }
	switch e.Code {
	case sigv4.CodeMissingAuthenticationToken:
		return &Error{Status: http.StatusForbidden, Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token"}
	case sigv4.CodeIncompleteSignature, sigv4.CodeQueryParameters, sigv4.CodeInvalidArgument:
		return m(http.StatusBadRequest, "IncompleteSignature")
	case sigv4.CodeUnrecognizedClient:
		return m(http.StatusForbidden, "InvalidClientTokenId")
	case sigv4.CodeInvalidSignature, sigv4.CodeContentSHA256Mismatch:
		return m(http.StatusForbidden, "SignatureDoesNotMatch")
	case sigv4.CodeAccessDenied:
		return m(http.StatusBadRequest, "RequestExpired")
	case sigv4.CodeExpiredToken:
		return m(http.StatusForbidden, "ExpiredToken")
	}
	return m(e.Status, e.Code)
}

// errorResponse is the Query protocol's error envelope.
type errorResponse struct {
	XMLName   xml.Name  `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Error     errorBody `xml:"Error"`
	RequestID string    `xml:"RequestId"`
}

type errorBody struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// validationError collects constraint violations the way STS reports them:
// "2 validation errors detected: Value '1' at 'roleSessionName' failed to
// satisfy constraint: ...; Value ...".
type validationError []string

func (v *validationError) add(value *string, member, constraint string) {
	val := "null"
	if value != nil {
		val = quote(*value)
	}
	*v = append(*v, "Value "+val+" at '"+member+"' failed to satisfy constraint: "+constraint)
}

func (v validationError) err() *Error {
	if len(v) == 0 {
		return nil
	}
	msg := "1 validation error detected: "
	if len(v) > 1 {
		msg = itoa(len(v)) + " validation errors detected: "
	}
	for i, s := range v {
		if i > 0 {
			msg += "; "
		}
		msg += s
	}
	return &Error{Status: http.StatusBadRequest, Code: "ValidationError", Message: msg}
}
