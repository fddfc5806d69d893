// Package api holds the end-to-end performance benchmarks of openfinspace:
// throughput and tail latency of API reads through the full stack (HTTP over
// loopback, SigV4 verification, store read) against a bare net/http handler,
// the memory of an idle and of a loaded server, and the cost of a
// ListEnvironments page as the number of environments grows.
//
// Everything lives in _test.go files; see bench/README.md for how to run the
// benchmarks and the report driver, and for measured figures.
package api
