package hostile_test

// A bounded slowloris run against a real server with a small connection
// cap: a few hundred connections trickle their headers a byte at a time
// (and reconnect when cut off) while more connections arrive beyond the
// cap. The Go SDK is served throughout, on its kept-alive connection and
// on new ones; refusals above the cap are clean 503 envelopes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

const (
	slowlorisCap        = 300                    // server's MaxConnections
	slowlorisTricklers  = 300                    // trickling connections (with the SDK's: over the cap)
	slowlorisOverCap    = 100                    // connections opened at once beyond the cap
	slowlorisRun        = 6 * time.Second        // how long the SDK clients run under attack
	slowlorisByteEvery  = 700 * time.Millisecond // a trickler's pace
	slowlorisHeaderTime = 4 * time.Second        // server's ReadHeaderTimeout
)

// slowlorisTally counts what the tricklers saw.
type slowlorisTally struct {
	dials, timeouts408, refused503, closedSilently, other atomic.Int64
	otherSample                                           atomic.Value // string
}

// slowlorisTrickle keeps one trickling connection open until ctx ends:
// it sends the start of a request, then one header byte every
// slowlorisByteEvery, and reconnects when the server answers or closes.
func slowlorisTrickle(ctx context.Context, addr string, tally *slowlorisTally, started *sync.WaitGroup) {
	first := true
	for ctx.Err() == nil {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		tally.dials.Add(1)
		_, err = c.Write([]byte("GET /environment HTTP/1.1\r\nHost: slowloris\r\nX-Slow: "))
		if first {
			started.Done()
			first = false
		}
		var got []byte
		buf := make([]byte, 4096)
		for err == nil && ctx.Err() == nil {
			_ = c.SetReadDeadline(time.Now().Add(slowlorisByteEvery))
			var n int
			n, err = c.Read(buf)
			got = append(got, buf[:n]...)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_, err = c.Write([]byte("a"))
			}
		}
		c.Close()
		if ctx.Err() != nil {
			return
		}
		switch status := slowlorisStatus(got); status {
		case 408:
			tally.timeouts408.Add(1)
		case 503:
			tally.refused503.Add(1)
		case 0:
			tally.closedSilently.Add(1)
		default:
			tally.other.Add(1)
			tally.otherSample.Store(string(got))
		}
	}
}

// slowlorisStatus is the status of the envelope in raw, 0 for none (and
// -1 for a response that is not an AWS rest-json envelope).
func slowlorisStatus(raw []byte) int {
	if len(raw) == 0 {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		return -1
	}
	body, _ := io.ReadAll(resp.Body)
	var e struct {
		Type string `json:"__type"`
	}
	if json.Unmarshal(body, &e) != nil || e.Type == "" || e.Type != resp.Header.Get("X-Amzn-ErrorType") ||
		resp.Header.Get("x-amzn-RequestId") == "" || !resp.Close {
		return -1
	}
	return resp.StatusCode
}

// slowlorisSDK calls the API every interval until ctx ends; every call
// must succeed within a second.
func slowlorisSDK(ctx context.Context, t *testing.T, name string, c *finspace.Client, envID string, calls *atomic.Int64, fail func(string, ...any)) {
	for ctx.Err() == nil {
		start := time.Now()
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.ListEnvironments(cctx, &finspace.ListEnvironmentsInput{MaxResults: 10})
		if err == nil {
			_, err = c.GetEnvironment(cctx, &finspace.GetEnvironmentInput{EnvironmentId: aws.String(envID)})
		}
		cancel()
		if err != nil {
			fail("%s: call %d failed under attack: %v", name, calls.Load(), err)
			return
		}
		if d := time.Since(start); d > 2*time.Second {
			fail("%s: call %d took %v under attack", name, calls.Load(), d)
		}
		calls.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestSlowloris(t *testing.T) {
	srv := servertest.Start(t, func(c *server.Config) {
		c.MaxConnections = slowlorisCap
		c.ReadHeaderTimeout = slowlorisHeaderTime
		c.IdleTimeout = 5 * time.Second
		c.Logger = nil // the refusal warnings are expected
	})
	u, _ := url.Parse(srv.URL())
	addr := u.Host
	ctx := context.Background()

	// The well-behaved client, connected before the attack.
	kept := servertest.Finspace(srv)
	env, err := kept.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("slowloris")})
	if err != nil {
		t.Fatal(err)
	}
	// One that opens a new connection for every request, so it needs a
	// slot each time.
	fresh := servertest.Finspace(srv, func(o *finspace.Options) {
		o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	})

	attack, stopAttack := context.WithCancel(ctx)
	defer stopAttack()
	var tally slowlorisTally
	var tricklers, started sync.WaitGroup
	started.Add(slowlorisTricklers)
	for range slowlorisTricklers {
		tricklers.Add(1)
		go func() { defer tricklers.Done(); slowlorisTrickle(attack, addr, &tally, &started) }()
	}
	started.Wait()
	floodDone := time.Now()

	// Beyond the cap, while every trickler is too young to evict: clean
	// refusals.
	var overCap sync.WaitGroup
	var refusals, admitted atomic.Int64
	var badRefusal atomic.Value
	for range slowlorisOverCap {
		overCap.Add(1)
		go func() {
			defer overCap.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				badRefusal.Store("dial: " + err.Error())
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = c.Write([]byte("GET /environment HTTP/1.1\r\nHost: over\r\n\r\n"))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				badRefusal.Store("no response: " + err.Error())
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 403 { // admitted after all (a trickler was evictable): the handler's answer
				admitted.Add(1)
				return
			}
			var e struct{ Type, Message string }
			_ = json.Unmarshal(body, &struct {
				T *string `json:"__type"`
				M *string `json:"message"`
			}{&e.Type, &e.Message})
			if resp.StatusCode != 503 || e.Type != "ServiceUnavailableException" || resp.Header.Get("X-Amzn-ErrorType") != e.Type ||
				resp.Header.Get("Retry-After") == "" || resp.Header.Get("x-amzn-RequestId") == "" || !resp.Close || e.Message == "" {
				badRefusal.Store(resp.Status + " " + string(body))
				return
			}
			// Then the server closes the connection: with a FIN, or, when
			// more refusals are in flight than it drains at once, with a
			// reset once the 503 is out (read in full above).
			if _, err := br.ReadByte(); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
				badRefusal.Store("connection not closed after the 503: " + errString(err))
				return
			}
			refusals.Add(1)
		}()
	}
	overCap.Wait()
	if v := badRefusal.Load(); v != nil {
		t.Errorf("a connection beyond the cap was not refused cleanly: %v", v)
	}
	if refusals.Load() == 0 {
		t.Errorf("no refusal among %d connections beyond the cap (admitted %d)", slowlorisOverCap, admitted.Load())
	}
	t.Logf("beyond the cap: %d refused with 503, %d admitted (evicting a trickler) %v after the flood",
		refusals.Load(), admitted.Load(), time.Since(floodDone).Round(time.Millisecond))

	// The SDK under attack: the kept-alive client from now, the fresh
	// one once the tricklers are old enough to be evicted for it (1 s).
	run, stopRun := context.WithTimeout(ctx, slowlorisRun)
	defer stopRun()
	var mu sync.Mutex
	var failures []string
	fail := func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, strings.TrimSpace(sprintf(f, a...)))
	}
	var keptCalls, freshCalls atomic.Int64
	var clients sync.WaitGroup
	clients.Add(2)
	go func() {
		defer clients.Done()
		slowlorisSDK(run, t, "kept-alive client", kept, *env.EnvironmentId, &keptCalls, fail)
	}()
	go func() {
		defer clients.Done()
		time.Sleep(time.Until(floodDone.Add(100 * time.Millisecond)))
		slowlorisSDK(run, t, "new-connection client", fresh, *env.EnvironmentId, &freshCalls, fail)
	}()
	clients.Wait()
	stopAttack()
	tricklers.Wait()

	for _, f := range failures {
		t.Error(f)
	}
	if keptCalls.Load() < 10 || freshCalls.Load() < 5 {
		t.Errorf("SDK calls under attack: %d kept-alive, %d new-connection; want a steady stream", keptCalls.Load(), freshCalls.Load())
	}
	t.Logf("under attack for %v: %d kept-alive SDK call pairs, %d new-connection ones; tricklers: %d dials, %d cut off with 408, %d refused with 503, %d closed silently, %d other",
		slowlorisRun, keptCalls.Load(), freshCalls.Load(), tally.dials.Load(), tally.timeouts408.Load(), tally.refused503.Load(), tally.closedSilently.Load(), tally.other.Load())
	if tally.timeouts408.Load() == 0 {
		t.Error("no trickler was cut off with a 408 (header deadline or eviction)")
	}
	if n := tally.other.Load(); n > 0 {
		t.Errorf("%d tricklers got something else than a 408/503 envelope, e.g. %q", n, tally.otherSample.Load())
	}
	if n := tally.closedSilently.Load(); n > 0 {
		t.Errorf("%d tricklers were closed without an envelope", n)
	}

	// Afterwards the server is at rest and serves at once.
	if _, err := fresh.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{}); err != nil {
		t.Errorf("after the attack: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "more data"
	}
	return err.Error()
}

var sprintf = func(f string, a ...any) string { return strings.TrimSpace(fmt.Sprintf(f, a...)) }

func init() { _ = os.Getenv }
