package sigv4

import "net/http"

// Error codes returned in Error.Code. They are the codes the AWS JSON and
// query services send; ForS3 gives the Amazon S3 equivalents.
//
//	403 MissingAuthenticationTokenException  no Authorization header, no presigned query
//	403 IncompleteSignatureException         malformed Authorization header, unsupported
//	                                         algorithm, bad scope, no X-Amz-Date/Date,
//	                                         host not signed, two Authorization headers
//	400 AuthorizationQueryParametersError    malformed presigned query (missing or
//	                                         repeated X-Amz-* parameter, X-Amz-Expires
//	                                         over 7 days, ...)
//	400 InvalidArgument                      both header and query authentication;
//	                                         a bad X-Amz-Content-Sha256 value
//	403 UnrecognizedClientException          unknown access key; session token missing,
//	                                         wrong, or sent with a long-term key
//	403 InvalidSignatureException            signature mismatch; scope date is not the
//	                                         X-Amz-Date day; signing time outside ±MaxSkew
//	403 AccessDeniedException                presigned URL expired or not yet valid
//	403 ExpiredTokenException                the credential has expired
//	400 XAmzContentSHA256Mismatch            X-Amz-Content-Sha256 is not the body's hash
//	501 NotImplemented                       STREAMING-* (aws-chunked) payloads
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeQueryParameters            = "AuthorizationQueryParametersError"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeInvalidSignature           = "InvalidSignatureException"
	CodeAccessDenied               = "AccessDeniedException"
	CodeExpiredToken               = "ExpiredTokenException"
	CodeContentSHA256Mismatch      = "XAmzContentSHA256Mismatch"
	CodeInvalidArgument            = "InvalidArgument"
	CodeNotImplemented             = "NotImplemented"
)

// Messages shared by several failures. They never name the secret, the
// expected signature or the session token.
const (
	msgMissingToken     = "Missing Authentication Token"
	msgInvalidToken     = "The security token included in the request is invalid."
	msgSignatureInvalid = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgTokenExpired     = "The security token included in the request is expired"
	msgPresignExpired   = "Request has expired"
	msgPresignNotYet    = "Request is not yet valid"
	msgContentMismatch  = "The provided 'x-amz-content-sha256' header does not match what was computed."
	msgMultipleAuth     = "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified"
)

// kind says which check failed; ForS3 maps it to S3's vocabulary.
type kind int

const (
	kindMissing kind = iota + 1
	kindIncomplete
	kindQueryParams
	kindMultipleAuth
	kindUnknownKey
	kindBadToken
	kindSignature
	kindDateMismatch
	kindSkew
	kindPresignExpired
	kindPresignNotYet
	kindCredentialExpired
	kindContentMismatch
	kindContentInvalid
	kindStreaming
)

// Error is a client-safe authentication failure: the HTTP status, the AWS
// error code and message to send. Any other error from Verify comes from the
// credential store and is internal.
type Error struct {
	Status  int
	Code    string
	Message string

	kind kind
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ForS3 returns the equivalent error in Amazon S3's vocabulary
// (SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed, ...), for
// endpoints that speak the S3 XML protocol.
func (e *Error) ForS3() *Error {
	s3 := func(status int, code, msg string) *Error {
		return &Error{Status: status, Code: code, Message: msg, kind: e.kind}
	}
	switch e.kind {
	case kindMissing:
		return s3(http.StatusForbidden, "AccessDenied", "Access Denied")
	case kindIncomplete:
		return s3(http.StatusBadRequest, "AuthorizationHeaderMalformed", e.Message)
	case kindMultipleAuth, kindContentInvalid:
		return s3(http.StatusBadRequest, "InvalidArgument", e.Message)
	case kindUnknownKey:
		return s3(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	case kindBadToken:
		return s3(http.StatusBadRequest, "InvalidToken", "The provided token is malformed or otherwise invalid.")
	case kindSignature:
		return s3(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	case kindDateMismatch:
		return s3(http.StatusForbidden, "SignatureDoesNotMatch", e.Message)
	case kindSkew:
		return s3(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
	case kindPresignExpired, kindPresignNotYet:
		return s3(http.StatusForbidden, "AccessDenied", e.Message)
	case kindCredentialExpired:
		return s3(http.StatusBadRequest, "ExpiredToken", "The provided token has expired.")
	}
	// Query parameter errors, content hash errors and NotImplemented
	// already use S3's codes.
	c := *e
	return &c
}

func newError(k kind, status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg, kind: k}
}

func errMissing() *Error {
	return newError(kindMissing, http.StatusForbidden, CodeMissingAuthenticationToken, msgMissingToken)
}

func errIncomplete(msg string) *Error {
	return newError(kindIncomplete, http.StatusForbidden, CodeIncompleteSignature, msg)
}

func errQueryParams(msg string) *Error {
	return newError(kindQueryParams, http.StatusBadRequest, CodeQueryParameters, msg)
}

func errMultipleAuth() *Error {
	return newError(kindMultipleAuth, http.StatusBadRequest, CodeInvalidArgument, msgMultipleAuth)
}

func errUnknownKey() *Error {
	return newError(kindUnknownKey, http.StatusForbidden, CodeUnrecognizedClient, msgInvalidToken)
}

func errBadToken() *Error {
	return newError(kindBadToken, http.StatusForbidden, CodeUnrecognizedClient, msgInvalidToken)
}

func errSignature() *Error {
	return newError(kindSignature, http.StatusForbidden, CodeInvalidSignature, msgSignatureInvalid)
}

func errDateMismatch(msg string) *Error {
	return newError(kindDateMismatch, http.StatusForbidden, CodeInvalidSignature, msg)
}

func errSkew(msg string) *Error {
	return newError(kindSkew, http.StatusForbidden, CodeInvalidSignature, msg)
}

func errPresignExpired() *Error {
	return newError(kindPresignExpired, http.StatusForbidden, CodeAccessDenied, msgPresignExpired)
}

func errPresignNotYet() *Error {
	return newError(kindPresignNotYet, http.StatusForbidden, CodeAccessDenied, msgPresignNotYet)
}

func errCredentialExpired() *Error {
	return newError(kindCredentialExpired, http.StatusForbidden, CodeExpiredToken, msgTokenExpired)
}

func errContentMismatch() *Error {
	return newError(kindContentMismatch, http.StatusBadRequest, CodeContentSHA256Mismatch, msgContentMismatch)
}

func errContentInvalid() *Error {
	return newError(kindContentInvalid, http.StatusBadRequest, CodeInvalidArgument,
		"x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the payload.")
}

func errStreaming() *Error {
	return newError(kindStreaming, http.StatusNotImplemented, CodeNotImplemented,
		"Streaming (aws-chunked) payload signing is not supported by this endpoint; send the payload in one piece.")
}
