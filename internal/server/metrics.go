package server

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/metrics"
)

// registerGauges adds the metrics read from the store at each scrape: what
// every process sharing the store changes (queued and running jobs,
// clusters and nodes by status), so each process reports the shared truth.
func (s *Server) registerGauges() {
	s.metrics.Gauges("openfinspace_jobs_pending", "Jobs queued or running by kind and state, across every process sharing the store.",
		[]string{"kind", "state"}, func(ctx context.Context) ([]metrics.Sample, error) {
			counts, err := s.jobs.Pending(ctx)
			if err != nil {
				return nil, err
			}
			var out []metrics.Sample
			for kind, byState := range counts {
				for state, n := range byState {
					out = append(out, metrics.Sample{Labels: []string{kind, string(state)}, Value: float64(n)})
				}
			}
			return out, nil
		})
	s.metrics.Gauges("openfinspace_kx_clusters", "Kx clusters by status, across every process sharing the store.",
		[]string{"status"}, func(ctx context.Context) ([]metrics.Sample, error) {
			clusters, _, _, err := s.kx.ClusterCounts(ctx)
			if err != nil {
				return nil, err
			}
			var out []metrics.Sample
			for st, n := range clusters {
				out = append(out, metrics.Sample{Labels: []string{string(st)}, Value: float64(n)})
			}
			return out, nil
		})
	s.metrics.Gauges("openfinspace_kx_nodes", "Kx cluster nodes by state (up: accepting connections; down: starting, restarting or stopped).",
		[]string{"state"}, func(ctx context.Context) ([]metrics.Sample, error) {
			_, up, down, err := s.kx.ClusterCounts(ctx)
			if err != nil {
				return nil, err
			}
			return []metrics.Sample{{Labels: []string{"up"}, Value: float64(up)}, {Labels: []string{"down"}, Value: float64(down)}}, nil
		})
}

// countS3 counts the S3 requests of the main port by operation and
// status.
func (s *Server) countS3(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &s3StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 && sw.hijacked {
			// A large GET answered from the object file on the client's
			// own connection (s3gw's sendfile path): only a successful
			// object read takes it, whole or ranged.
			status = http.StatusOK
			if r.Header.Get("Range") != "" {
				status = http.StatusPartialContent
			}
		}
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.S3Request(s3Operation(r), status, time.Since(start))
	})
}

type s3StatusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *s3StatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *s3StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines); Hijack is here so that a hijack is seen.
func (w *s3StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *s3StatusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// s3Operation names an S3 request's operation as the S3 API does, from its
// method, whether it names a bucket and a key (path style), and its
// sub-resource query parameters; "Unknown" for anything else.
func s3Operation(r *http.Request) string {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	has := func(names ...string) bool {
		for _, n := range names {
			if q.Has(n) {
				return true
			}
		}
		return false
	}
	switch {
	case bucket == "":
		if r.Method == http.MethodGet {
			return "ListBuckets"
		}
	case key == "":
		switch r.Method {
		case http.MethodGet:
			switch {
			case has("uploads"):
				return "ListMultipartUploads"
			case has("location"):
				return "GetBucketLocation"
			case has("versioning"):
				return "GetBucketVersioning"
			case has("versions"):
				return "ListObjectVersions"
			case has("tagging"):
				return "GetBucketTagging"
			case has("policy"):
				return "GetBucketPolicy"
			case has("acl"):
				return "GetBucketAcl"
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			}
			return "ListObjects"
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodPut:
			switch {
			case has("tagging"):
				return "PutBucketTagging"
			case has("versioning"):
				return "PutBucketVersioning"
			case has("policy"):
				return "PutBucketPolicy"
			case has("acl"):
				return "PutBucketAcl"
			}
			return "CreateBucket"
		case http.MethodDelete:
			switch {
			case has("tagging"):
				return "DeleteBucketTagging"
			case has("policy"):
				return "DeleteBucketPolicy"
			}
			return "DeleteBucket"
		case http.MethodPost:
			if has("delete") {
				return "DeleteObjects"
			}
		}
	default:
		switch r.Method {
		case http.MethodGet:
			switch {
			case has("uploadId"):
				return "ListParts"
			case has("tagging"):
				return "GetObjectTagging"
			case has("acl"):
				return "GetObjectAcl"
			case has("attributes"):
				return "GetObjectAttributes"
			}
			return "GetObject"
		case http.MethodHead:
			return "HeadObject"
		case http.MethodPut:
			switch {
			case has("partNumber") && r.Header.Get("X-Amz-Copy-Source") != "":
				return "UploadPartCopy"
			case has("partNumber"):
				return "UploadPart"
			case has("tagging"):
				return "PutObjectTagging"
			case has("acl"):
				return "PutObjectAcl"
			case r.Header.Get("X-Amz-Copy-Source") != "":
				return "CopyObject"
			}
			return "PutObject"
		case http.MethodPost:
			switch {
			case has("uploads"):
				return "CreateMultipartUpload"
			case has("uploadId"):
				return "CompleteMultipartUpload"
			}
		case http.MethodDelete:
			switch {
			case has("uploadId"):
				return "AbortMultipartUpload"
			case has("tagging"):
				return "DeleteObjectTagging"
			}
			return "DeleteObject"
		}
	}
	return "Unknown"
}
