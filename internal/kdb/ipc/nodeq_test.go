package ipc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"
)

const nodeQVersion = "2.7.0"

// nodeQ returns the directory of an installed node-q, installing it once
// into the user cache dir (reused across runs). Without node and npm the
// test is skipped, or fails under CI=true.
func nodeQ(t *testing.T) string {
	t.Helper()
	_, errNode := exec.LookPath("node")
	_, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node and npm are required under CI=true for the node-q cross-check")
		}
		t.Skip("node or npm not found: skipping the node-q cross-check")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(cache, "openfinspace", "node-q", nodeQVersion)
	mod := filepath.Join(root, "node_modules", "node-q")
	if _, err := os.Stat(filepath.Join(mod, "package.json")); err == nil {
		return mod
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	// Install into a fresh directory, then rename: concurrent runs never
	// see half an install.
	tmp, err := os.MkdirTemp(filepath.Dir(root), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", tmp, "node-q@"+nodeQVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("npm install node-q@%s failed (offline?): %v\n%s", nodeQVersion, err, out)
		}
		t.Fatalf("npm install node-q@%s: %v\n%s", nodeQVersion, err, out)
	}
	if err := os.Rename(tmp, root); err != nil && !errors.Is(err, os.ErrExist) {
		if _, serr := os.Stat(filepath.Join(mod, "package.json")); serr != nil {
			t.Fatal(err)
		}
	}
	return mod
}

// halfDay is 12:00 in nanoseconds: node-q turns q temporals into
// JavaScript dates through float days and truncates to milliseconds, exact
// only for such values (05.006 came back as 05.005).
const halfDay = 43_200_000_000_000

// nodeQServer answers node-q's queries (sync char vectors) as a q server
// would, and records what it received.
type nodeQServer struct {
	ln       net.Listener
	mu       sync.Mutex
	received []Message
	creds    []Credentials
	errs     []error
}

func (s *nodeQServer) serve(password string) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.conn(c, password)
	}
}

func (s *nodeQServer) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *nodeQServer) conn(c net.Conn, password string) {
	defer c.Close()
	cr, err := ReadCredentials(c)
	if err != nil {
		s.fail(err)
		return
	}
	s.mu.Lock()
	s.creds = append(s.creds, cr)
	s.mu.Unlock()
	if cr.Password != password {
		return // refuse: close without a reply
	}
	if _, err := AcceptCredentials(c, cr.Capability, DefaultCapability); err != nil {
		s.fail(err)
		return
	}
	for {
		m, err := ReadMessage(c, Limits{})
		if err != nil {
			return
		}
		s.mu.Lock()
		s.received = append(s.received, m)
		s.mu.Unlock()
		ans, opts := answer(m.Value)
		if err := WriteMessage(c, Response, ans, opts); err != nil {
			s.fail(err)
			return
		}
	}
}

func testGUID() GUID {
	return GUID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0, 1, 2, 3, 4, 5, 6, 7}
}

func answer(v Value) (Value, EncodeOptions) {
	if l, ok := v.(*List); ok && len(l.Items) > 0 {
		if s, ok := l.Items[0].(*CharVector); ok && s.Data == "echo" {
			return &List{Items: l.Items[1:]}, EncodeOptions{}
		}
	}
	q, _ := v.(*CharVector)
	if q == nil {
		return Error("type"), EncodeOptions{}
	}
	switch q.Data {
	case "table":
		return &Table{Columns: []string{"l", "f", "s", "t"}, Data: []Value{
			&LongVector{Data: []int64{1, 2}},
			&FloatVector{Data: []float64{1.5, -2}},
			&SymbolVector{Data: []string{"a", "bc"}},
			&TimestampVector{Data: []int64{7306*86_400_000_000_000 + halfDay, halfDay}},
		}}, EncodeOptions{}
	case "dict":
		return &Dict{Keys: &SymbolVector{Data: []string{"a", "b"}}, Values: &List{Items: []Value{Long(1), &CharVector{Data: "xy"}}}}, EncodeOptions{}
	case "atoms":
		return &List{Items: []Value{
			Bool(true), testGUID(), Byte(255), Short(-5), Int(7), Long(1 << 40), Real(1.5), Float(3.25),
			Char('x'), Symbol("sym"), Timestamp(7306*86_400_000_000_000 + halfDay), Month(241), Date(7306),
			Datetime(7306.5), Timespan(halfDay), Minute(720), Second(43200), Time(43_200_000),
			NullInt, NullFloat(), InfInt,
		}}, EncodeOptions{}
	case "syms":
		return &SymbolVector{Data: []string{"a", "b", ""}}, EncodeOptions{}
	case "timestamps":
		return &TimestampVector{Data: []int64{halfDay, int64(NullTimestamp)}}, EncodeOptions{}
	case "compressed":
		n := make([]int64, 5000)
		for i := range n {
			n[i] = int64(i / 7)
		}
		return &LongVector{Data: n}, EncodeOptions{Compress: true}
	case "identity":
		return Identity, EncodeOptions{}
	}
	return Error("type"), EncodeOptions{}
}

func runNodeQ(t *testing.T, mod string, port int, user, password string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "nodeq_client.js"), mod, strconv.Itoa(port), user, password)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	return got
}

func TestNodeQ(t *testing.T) {
	mod := nodeQ(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := &nodeQServer{ln: ln}
	go s.serve("s3cret")
	port := ln.Addr().(*net.TCPAddr).Port

	got := runNodeQ(t, mod, port, "alice", "s3cret")
	wantJSON := `{
	 "table": [{"l":1,"f":1.5,"s":"a","t":"2020-01-02T12:00:00.000Z"},{"l":2,"f":-2,"s":"bc","t":"2000-01-01T12:00:00.000Z"}],
	 "dict": {"a":1,"b":"xy"},
	 "atoms": [true,"01234567-89ab-cdef-0001-020304050607",255,-5,7,1099511627776,1.5,3.25,"x","sym",
	   "2020-01-02T12:00:00.000Z","2020-02-01T00:00:00.000Z","2020-01-02T00:00:00.000Z","2020-01-02T12:00:00.000Z",
	   "2000-01-01T12:00:00.000Z","2000-01-01T12:00:00.000Z","2000-01-01T12:00:00.000Z","2000-01-01T12:00:00.000Z",
	   null,null,null],
	 "syms": ["a","b",null],
	 "timestamps": ["2000-01-01T12:00:00.000Z",null],
	 "error": {"error":"type"},
	 "compressed": {"n":5000,"first":0,"last":714},
	 "identity": null,
	 "echo": [[1,2,3],["a","b"],"2020-01-02T12:00:00.000Z",[1.5,null],{"a":1,"b":"xy"},"01234567-89ab-cdef-0001-020304050607",[null,5]]
	}`
	var want map[string]any
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	// node-q reads 0Wi as Infinity, which JSON prints as null.
	for k := range want {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("%s: node-q decoded\n %v\nwant\n %v", k, got[k], want[k])
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, err := range s.errs {
		t.Error(err)
	}
	if len(s.creds) != 1 || s.creds[0] != (Credentials{User: "alice", Password: "s3cret", Capability: 3}) {
		t.Fatalf("credentials %+v", s.creds)
	}
	if len(s.received) != 9 {
		t.Fatalf("%d messages received", len(s.received))
	}
	for _, m := range s.received {
		if m.Header.Type != Sync || m.Header.BigEndian {
			t.Fatalf("header %+v", m.Header)
		}
	}
	// What node-q serialized, as decoded here.
	echo := s.received[8].Value.(*List).Items
	if q := echo[0].(*CharVector).Data; q != "echo" {
		t.Fatalf("query %q", q)
	}
	if v := echo[1].(*LongVector).Data; !reflect.DeepEqual(v, []int64{1, 2, 3}) {
		t.Errorf("longs %v", v)
	}
	if v := echo[2].(*SymbolVector).Data; !reflect.DeepEqual(v, []string{"a", "b"}) {
		t.Errorf("symbols %v", v)
	}
	if v := echo[3].(Timestamp); v != TimestampOf(time.Date(2020, 1, 2, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("timestamp %v", v.Time())
	}
	if v := echo[4].(*FloatVector).Data; v[0] != 1.5 || v[1] == v[1] {
		t.Errorf("floats %v", v)
	}
	d := echo[5].(*Dict)
	if k := d.Keys.(*SymbolVector).Data; !reflect.DeepEqual(k, []string{"a", "b"}) {
		t.Errorf("dict keys %v", k)
	}
	if vals := d.Values.(*List).Items; vals[0] != Float(1) || vals[1].(*CharVector).Data != "xy" {
		t.Errorf("dict values %v", vals)
	}
	if g := echo[6].(GUID); g != testGUID() {
		t.Errorf("guid %x", g)
	}
	if v := echo[7].(*IntVector).Data; v[0] != int32(InfInt) || v[1] != 5 {
		t.Errorf("ints %v", v)
	}
}

func TestNodeQRefusedLogin(t *testing.T) {
	mod := nodeQ(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := &nodeQServer{ln: ln}
	go s.serve("right")
	got := runNodeQ(t, mod, ln.Addr().(*net.TCPAddr).Port, "bob", "wrong")
	if got["connectError"] == nil {
		t.Fatalf("node-q logged in with a wrong password: %v", got)
	}
}
