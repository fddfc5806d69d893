package fault_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/fault"
)

// The internal cause of a fault never reaches what a client may see, even
// through %v, %s or a wrapping error; it reaches the log.
func TestCauseStaysInternal(t *testing.T) {
	cause := errors.New("disk /var/lib/secret-path full")
	e := &fault.Error{Kind: fault.Invalid, Message: "The dataset could not be stored.", Err: cause}
	for _, s := range []string{e.Error(), fmt.Sprintf("%v", e), fmt.Sprintf("%s", e), fmt.Sprintf("%+v", e),
		fmt.Errorf("adapter: %w", e).Error()} {
		if strings.Contains(s, "secret-path") {
			t.Errorf("client-visible text %q carries the cause", s)
		}
	}
	if !errors.Is(e, cause) || errors.Unwrap(e) != cause {
		t.Error("the cause is not reachable with errors.Unwrap")
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Error("request failed", "error", e)
	if !strings.Contains(buf.String(), "secret-path") {
		t.Errorf("the log lacks the cause: %s", buf.String())
	}
}
