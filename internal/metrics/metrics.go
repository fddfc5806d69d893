// Package metrics exposes Prometheus metrics of one server instance. Each
// server has its own registry (no global state), so tests can run several.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the registry and the request instruments.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// series remembers the instruments of each (service, operation,
	// status): WithLabelValues hashes and looks up its labels on every
	// call. The key space is bounded by the operation tables and the few
	// statuses each operation answers.
	series sync.Map // seriesKey → *seriesInstruments
}

type seriesKey struct {
	service, operation string
	status             int
}

type seriesInstruments struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// New registers the request metrics and the Go runtime collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openfinspace_requests_total",
			Help: "API requests by service, operation and HTTP status.",
		}, []string{"service", "operation", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "openfinspace_request_duration_seconds",
			Help:    "API request latency by service and operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"service", "operation"}),
	}
	m.Registry.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe implements restjson.Observer.
func (m *Metrics) Observe(service, operation string, status int, elapsed time.Duration) {
	if operation == "" {
		operation = "unknown"
	}
	k := seriesKey{service, operation, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &seriesInstruments{
			requests: m.requests.WithLabelValues(service, operation, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(service, operation),
		})
	}
	in := v.(*seriesInstruments)
	in.requests.Inc()
	in.latency.Observe(elapsed.Seconds())
}

// Handler serves the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
