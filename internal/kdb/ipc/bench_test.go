package ipc

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// benchTable is the codec benchmark's table: rows rows of a long, a float,
// a symbol (one of 100 tickers, as a trade table has) and a timestamp.
func benchTable(rows int) *Table {
	tickers := make([]string, 100)
	for i := range tickers {
		tickers[i] = fmt.Sprintf("T%03d", i)
	}
	l := make([]int64, rows)
	f := make([]float64, rows)
	s := make([]string, rows)
	ts := make([]int64, rows)
	for i := range rows {
		l[i] = int64(i) * 7
		f[i] = float64(i) / 3
		s[i] = tickers[(i*31)%len(tickers)]
		ts[i] = 800_000_000_000_000_000 + int64(i)*1_000_000
	}
	return &Table{Columns: []string{"size", "price", "sym", "time"}, Data: []Value{
		&LongVector{Data: l}, &FloatVector{Data: f}, &SymbolVector{Data: s}, &TimestampVector{Data: ts},
	}}
}

const benchRows = 1_000_000

// cpuMBps reports, beside the wall-clock MB/s, MB per second of the
// process's CPU time (user and system, GC included): on a shared machine
// wall time counts the other processes' turns, CPU time does not. Call it
// after the loop with the CPU time read by cpuTime before it.
func cpuMBps(b *testing.B, bytes int, start time.Duration) {
	if d := cpuTime() - start; d > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/1e6/d.Seconds(), "MB/cpu-s")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncodeTable: MB/s of message bytes written.
func BenchmarkEncodeTable(b *testing.B) {
	t := benchTable(benchRows)
	msg, err := Encode(Response, t, EncodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := Encode(Response, t, EncodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	cpuMBps(b, len(msg), cpu)
}

// BenchmarkDecodeTable: MB/s of message bytes read.
func BenchmarkDecodeTable(b *testing.B) {
	msg, err := Encode(Response, benchTable(benchRows), EncodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := Decode(msg, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	cpuMBps(b, len(msg), cpu)
}

// BenchmarkDecodeTableBigEndian: the same table from a big-endian peer
// (every element byte-swapped).
func BenchmarkDecodeTableBigEndian(b *testing.B) {
	msg, err := Encode(Response, benchTable(benchRows), EncodeOptions{BigEndian: true})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := Decode(msg, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	cpuMBps(b, len(msg), cpu)
}
