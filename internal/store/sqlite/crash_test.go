package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
)

// Environment of the crash helper process.
const (
	crashEnvDB    = "OPENFINSPACE_SQLITE_CRASH_DB"
	crashEnvRound = "OPENFINSPACE_SQLITE_CRASH_ROUND"
	crashEnvN     = "OPENFINSPACE_SQLITE_CRASH_N"
)

func crashRecord(round, i int) *store.Record {
	return &store.Record{
		Kind: "crash", ID: fmt.Sprintf("r%d-%04d", round, i), Parent: "round" + strconv.Itoa(round),
		SortKey: fmt.Sprintf("%04d", i), Pending: i%2 == 0,
		Data: []byte(fmt.Sprintf(`{"round":%d,"i":%d,"pad":%q}`, round, i, strings.Repeat("x", i%300))),
	}
}

// TestHelperProcess is not a real test: TestCrash re-executes the test
// binary to run it as a child process that commits records, reports
// "committed", and keeps writing until it is SIGKILLed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashEnvDB)
	if path == "" {
		t.Skip("helper process for TestCrash")
	}
	round, _ := strconv.Atoi(os.Getenv(crashEnvRound))
	n, _ := strconv.Atoi(os.Getenv(crashEnvN))
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	for i := 0; i < n; {
		// Mix single-record and multi-record transactions.
		batch := 1 + i%5
		err := s.Update(ctx, func(tx store.Tx) error {
			for j := i; j < min(i+batch, n); j++ {
				if err := tx.Insert(ctx, crashRecord(round, j)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "insert:", err)
			os.Exit(2)
		}
		i += batch
	}
	fmt.Println("committed")
	// Keep the writer busy so the kill lands in the middle of transactions:
	// large inserts, updates and deletes, never committed as a whole.
	deadline := time.Now().Add(time.Minute) // never outlive a lost parent
	big := []byte(`"` + strings.Repeat("y", 256<<10) + `"`)
	for k := 0; time.Now().Before(deadline); k++ {
		_ = s.Update(ctx, func(tx store.Tx) error {
			for j := range 8 {
				id := fmt.Sprintf("noise-%d-%d-%d", round, k, j)
				if err := tx.Insert(ctx, &store.Record{Kind: "noise", ID: id, Data: big}); err != nil {
					return err
				}
			}
			if k > 0 {
				return tx.Delete(ctx, "noise", fmt.Sprintf("noise-%d-%d-0", round, k-1))
			}
			return nil
		})
	}
	os.Exit(3)
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	path := filepath.Join(t.TempDir(), "metadata.db")
	want := 0
	for round := range 4 {
		n := 100 + 37*round
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			crashEnvDB+"="+path, crashEnvRound+"="+strconv.Itoa(round), crashEnvN+"="+strconv.Itoa(n))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		ok := false
		timeout := time.After(2 * time.Minute)
	wait:
		for {
			select {
			case line, open := <-lines:
				if !open {
					break wait
				}
				if line == "committed" {
					ok = true
					break wait
				}
			case <-timeout:
				break wait
			}
		}
		if ok {
			// Let the noise writer get into a transaction, then kill it.
			time.Sleep(time.Duration(5+round*15) * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		go func() {
			for range lines {
			}
		}()
		werr := cmd.Wait()
		if !ok {
			t.Fatalf("round %d: helper did not report committed (%v)", round, werr)
		}
		if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: helper was not killed by SIGKILL: %v", round, werr)
		}
		want += n

		// Reopen: WAL recovery, every committed record present and intact.
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		checkIntegrity(t, s.w)
		got := 0
		err = s.View(t.Context(), func(tx store.Tx) error {
			for r := 0; r <= round; r++ {
				recs, err := tx.List(t.Context(), store.Query{Kind: "crash", Parent: "round" + strconv.Itoa(r)})
				if err != nil {
					return err
				}
				rn := 100 + 37*r
				if len(recs) != rn {
					return fmt.Errorf("round %d: %d records, want %d", r, len(recs), rn)
				}
				for i, rec := range recs {
					w := crashRecord(r, i)
					if rec.ID != w.ID || string(rec.Data) != string(w.Data) || rec.Pending != w.Pending || rec.Version != 1 {
						return fmt.Errorf("record %s differs: %+v", w.ID, rec)
					}
				}
				got += len(recs)
			}
			// Noise transactions are all or nothing: each committed one
			// inserted 8 and deleted the first of the previous batch.
			noise, err := tx.List(t.Context(), store.Query{Kind: "noise"})
			if err != nil {
				return err
			}
			perRound := map[string]int{}
			for _, rec := range noise {
				if len(rec.Data) != 256<<10+2 {
					return fmt.Errorf("noise record %s truncated to %d bytes", rec.ID, len(rec.Data))
				}
				perRound[strings.Split(rec.ID, "-")[1]]++
			}
			for r, c := range perRound {
				if c%7 != 1 { // k committed transactions leave 7k+1 records
					return fmt.Errorf("round %s: %d noise records, a transaction was applied partly", r, c)
				}
			}
			t.Logf("round %d: %d noise records survived", round, len(noise))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("round %d: %d records, want %d", round, got, want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
