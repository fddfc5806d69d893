package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestObserve: repeated observations of a series add up in the scrape,
// and statuses stay separate series.
func TestObserve(t *testing.T) {
	m := New()
	for range 3 {
		m.Observe("finspace", "GetEnvironment", 200, 2*time.Millisecond)
	}
	m.Observe("finspace", "GetEnvironment", 404, time.Millisecond)
	m.Observe("finspace", "", 403, time.Millisecond)
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Result().Body)
	for _, want := range []string{
		`openfinspace_requests_total{operation="GetEnvironment",service="finspace",status="200"} 3`,
		`openfinspace_requests_total{operation="GetEnvironment",service="finspace",status="404"} 1`,
		`openfinspace_requests_total{operation="unknown",service="finspace",status="403"} 1`,
		`openfinspace_request_duration_seconds_count{operation="GetEnvironment",service="finspace"} 4`,
		`openfinspace_request_duration_seconds_bucket{operation="GetEnvironment",service="finspace",le="0.001"} 1`,
		`openfinspace_request_duration_seconds_bucket{operation="GetEnvironment",service="finspace",le="0.0025"} 4`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
