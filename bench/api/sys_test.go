package api

import (
	"bufio"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is a snapshot of this process's CPU time and of the machine's
// CPU tick counters (/proc/stat), to tell how much of the machine a run
// had: the benchmarks share the cores with whatever else runs.
type cpuSample struct {
	at          time.Time
	proc        time.Duration // user+system time of this process
	busy, total uint64        // machine ticks (USER_HZ), 0 when unknown
	gcCycles    uint64        // completed GC cycles
	gcCPU       float64       // estimated CPU seconds spent in GC
}

var gcMetrics = []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	ms := make([]metrics.Sample, len(gcMetrics))
	copy(ms, gcMetrics)
	metrics.Read(ms)
	if ms[0].Value.Kind() == metrics.KindUint64 {
		s.gcCycles = ms[0].Value.Uint64()
	}
	if ms[1].Value.Kind() == metrics.KindFloat64 {
		s.gcCPU = ms[1].Value.Float64()
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		s.proc = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	f, err := os.Open("/proc/stat")
	if err != nil {
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return s
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return s
	}
	// user nice system idle iowait irq softirq steal
	for i, v := range fields[1:9] {
		n, _ := strconv.ParseUint(v, 10, 64)
		s.total += n
		if i != 3 && i != 4 {
			s.busy += n
		}
	}
	return s
}

// cpuUse is what happened between two samples.
type cpuUse struct {
	proc        time.Duration // CPU time this process used
	procShare   float64       // of the machine's capacity (all CPUs)
	machineBusy float64       // fraction of the machine busy (all processes); -1 unknown
	gcCycles    uint64        // GC cycles completed
	gcCPU       time.Duration // CPU time the GC used (runtime/metrics estimate)
}

func cpuBetween(a, b cpuSample) cpuUse {
	wall := b.at.Sub(a.at)
	u := cpuUse{proc: b.proc - a.proc, machineBusy: -1, gcCycles: b.gcCycles - a.gcCycles,
		gcCPU: time.Duration((b.gcCPU - a.gcCPU) * float64(time.Second))}
	if wall > 0 {
		u.procShare = u.proc.Seconds() / (wall.Seconds() * float64(runtime.NumCPU()))
	}
	if b.total > a.total {
		u.machineBusy = float64(b.busy-a.busy) / float64(b.total-a.total)
	}
	return u
}

// others is the fraction of the machine used by other processes.
func (u cpuUse) others() float64 {
	if u.machineBusy < 0 {
		return -1
	}
	return max(0, u.machineBusy-u.procShare)
}

// procStatus reads a "Name:   123 kB" field of /proc/<pid>/status, in
// bytes; pid "self" is this process. -1 when unavailable (not Linux).
func procStatus(pid, field string) int64 {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return -1
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return -1
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		return n
	}
	return -1
}

// loadAverage returns the 1-minute load average, -1 when unknown.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// waitQuiet waits, at most budget, until the machine's CPUs have been less
// than 15% busy for one second (other processes, e.g. builds, finished),
// and returns how long it waited and the busy fraction it last saw.
func waitQuiet(budget time.Duration) (time.Duration, float64) {
	start := time.Now()
	for {
		a := sampleCPU()
		time.Sleep(time.Second)
		u := cpuBetween(a, sampleCPU())
		if u.machineBusy < 0.15 || time.Since(start) >= budget {
			return time.Since(start), u.machineBusy
		}
	}
}
