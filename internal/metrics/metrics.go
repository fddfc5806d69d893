// Package metrics exposes Prometheus metrics of one server instance. Each
// server has its own registry (no global state), so tests can run several.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the registry and the instruments. Its methods are safe on
// a nil *Metrics (they do nothing), so a domain service built without one
// (in tests) needs no check.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	s3Requests   *prometheus.CounterVec
	s3Latency    *prometheus.HistogramVec
	jobsFinished *prometheus.CounterVec
	jobsRunning  *prometheus.GaugeVec
	ingestRows   prometheus.Counter
	ingestBytes  prometheus.Counter
	ingestDone   *prometheus.CounterVec
	kxBytes      prometheus.Counter
	kxFiles      prometheus.Counter
	kxDone       *prometheus.CounterVec
	nodeRestarts prometheus.Counter
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
	m.s3Requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "openfinspace_s3_requests_total",
		Help: "S3 requests on the main port by operation and HTTP status.",
	}, []string{"operation", "status"})
	m.s3Latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "openfinspace_s3_request_duration_seconds",
		Help:    "S3 request latency by operation, until the handler returns (a large GET sent from a file after that is not in it).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"operation"})
	m.jobsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "openfinspace_jobs_finished_total",
		Help: "Job attempts finished in this process by kind and outcome (done, failed, retry, again).",
	}, []string{"kind", "outcome"})
	m.jobsRunning = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "openfinspace_jobs_running",
		Help: "Jobs running in this process by kind.",
	}, []string{"kind"})
	m.ingestRows = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "openfinspace_ingest_rows_total", Help: "Rows of dataset changesets ingested (committed SUCCESS).",
	})
	m.ingestBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "openfinspace_ingest_stored_bytes_total", Help: "Bytes stored by dataset changesets ingested (committed SUCCESS).",
	})
	m.ingestDone = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "openfinspace_changesets_finished_total", Help: "Dataset changesets finished by status (SUCCESS, FAILED) and error category.",
	}, []string{"status", "category"})
	m.kxBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "openfinspace_kx_changeset_bytes_total", Help: "Bytes of the database versions kx changesets completed (the whole version, as numBytes reports it).",
	})
	m.kxFiles = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "openfinspace_kx_changeset_files_total", Help: "Files of the database versions kx changesets completed.",
	})
	m.kxDone = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "openfinspace_kx_changesets_finished_total", Help: "Kx changesets finished by status (COMPLETED, FAILED).",
	}, []string{"status"})
	m.nodeRestarts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "openfinspace_kx_node_restarts_total", Help: "Kx cluster nodes restarted after they exited, in this process.",
	})
	m.Registry.MustRegister(m.requests, m.latency, m.s3Requests, m.s3Latency, m.jobsFinished, m.jobsRunning,
		m.ingestRows, m.ingestBytes, m.ingestDone, m.kxBytes, m.kxFiles, m.kxDone, m.nodeRestarts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// S3Request counts one S3 request of the main port.
func (m *Metrics) S3Request(operation string, status int, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.s3Requests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
	m.s3Latency.WithLabelValues(operation).Observe(elapsed.Seconds())
}

// JobStarted and JobFinished track the jobs of this process (the job
// engine's jobs.Observer).
func (m *Metrics) JobStarted(kind string) {
	if m != nil {
		m.jobsRunning.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) JobFinished(kind, outcome string) {
	if m != nil {
		m.jobsRunning.WithLabelValues(kind).Dec()
		m.jobsFinished.WithLabelValues(kind, outcome).Inc()
	}
}

// ChangesetIngested counts a committed dataset changeset.
func (m *Metrics) ChangesetIngested(rows, storedBytes int64) {
	if m != nil {
		m.ingestRows.Add(float64(rows))
		m.ingestBytes.Add(float64(storedBytes))
		m.ingestDone.WithLabelValues("SUCCESS", "").Inc()
	}
}

// ChangesetFailed counts a dataset changeset that failed.
func (m *Metrics) ChangesetFailed(category string) {
	if m != nil {
		m.ingestDone.WithLabelValues("FAILED", category).Inc()
	}
}

// KxChangesetFinished counts a kx changeset (files and bytes of the
// version it completed; zero when it failed).
func (m *Metrics) KxChangesetFinished(status string, files int, bytes int64) {
	if m != nil {
		m.kxDone.WithLabelValues(status).Inc()
		m.kxFiles.Add(float64(files))
		m.kxBytes.Add(float64(bytes))
	}
}

// NodeRestarted counts a kx node restarted after it exited.
func (m *Metrics) NodeRestarted() {
	if m != nil {
		m.nodeRestarts.Inc()
	}
}

// Gauges registers a collector whose values are read at each scrape by
// collect (shared state such as the store's counts of queued jobs and of
// clusters by status, which other processes change too). collect gets
// the scrape's context and returns one value per label set.
func (m *Metrics) Gauges(name, help string, labels []string, collect func(ctx context.Context) ([]Sample, error)) {
	m.Registry.MustRegister(&gaugeCollector{desc: prometheus.NewDesc(name, help, labels, nil), collect: collect})
}

// Sample is one value of a Gauges collector.
type Sample struct {
	Labels []string
	Value  float64
}

type gaugeCollector struct {
	desc    *prometheus.Desc
	collect func(ctx context.Context) ([]Sample, error)
}

func (c *gaugeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	samples, err := c.collect(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, s := range samples {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, s.Value, s.Labels...)
	}
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
