package restjson

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// DefaultBodyTimeout is Handler.BodyTimeout's default. The JSON bodies of
// these APIs are small (kilobytes; the 16 MiB cap exists for one SAML
// member), so 30 s is generous for any real client, while a client that
// sends complete headers and then trickles its body gives its connection
// back after 30 s instead of never (net/http sets no read deadline on
// bodies when http.Server.ReadTimeout is 0, and that cannot be set
// server-wide: S3 uploads on the same port legitimately take minutes).
const DefaultBodyTimeout = 30 * time.Second

// readBody reads r's body, at most h.MaxBodyBytes, within h.BodyTimeout.
// The deadline is set on the connection (through http.ResponseController;
// writers that cannot reach one, such as httptest recorders, read without
// it) and cleared afterwards, so that net/http's background read of the
// connection while the operation runs has no deadline.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength == 0 { // 0: net/http's Body is http.NoBody
		return nil, nil
	}
	rc := http.NewResponseController(w)
	deadline := h.BodyTimeout > 0 && rc.SetReadDeadline(time.Now().Add(h.BodyTimeout)) == nil
	body, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBodyBytes+1))
	if err != nil || int64(len(body)) > h.MaxBodyBytes {
		// The deadline stays: net/http reads on to discard the rest of the
		// body after the handler, which must not wait on a trickling
		// client; the connection is not reused.
		w.Header().Set("Connection", "close")
	} else if deadline {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, &APIError{Status: http.StatusRequestTimeout, Code: "RequestTimeoutException",
			Message: fmt.Sprintf("The request body was not received within %v.", h.BodyTimeout)}
	}
	if err != nil {
		return nil, &APIError{Status: 400, Code: "ValidationException", Message: "The request body could not be read."}
	}
	if int64(len(body)) > h.MaxBodyBytes {
		return nil, &APIError{Status: 400, Code: "ValidationException",
			Message: fmt.Sprintf("The request body is larger than the limit of %d bytes.", h.MaxBodyBytes)}
	}
	return body, nil
}
