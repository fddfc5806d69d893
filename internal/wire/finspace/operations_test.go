package finspace_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/service/finspace"
	sdktypes "github.com/aws/aws-sdk-go-v2/service/finspace/types"

	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

func TestOperations(t *testing.T) {
	if got := len(finspace.Operations); got != 50 {
		t.Fatalf("%d operations, want 50", got)
	}
	if !slices.IsSortedFunc(finspace.Operations, func(a, b *restjson.Operation) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Operations is not sorted by name")
	}
	for _, op := range finspace.Operations {
		if op.Service != "finspace" {
			t.Errorf("%s: Service = %q", op.Name, op.Service)
		}
		if op.SuccessCode != 200 {
			t.Errorf("%s: SuccessCode = %d", op.Name, op.SuccessCode)
		}
		if len(op.Errors) == 0 {
			t.Errorf("%s: no errors", op.Name)
		}
		seen := map[string]bool{}
		for _, e := range op.Errors {
			if seen[e] {
				t.Errorf("%s: error %s listed twice", op.Name, e)
			}
			seen[e] = true
			if finspace.ErrorHTTPStatus(e) == 0 {
				t.Errorf("%s: error %s has no HTTP status", op.Name, e)
			}
		}
		in := op.NewInput()
		typ := reflect.TypeOf(in)
		if typ.Kind() != reflect.Pointer || typ.Elem().Name() != op.Name+"Request" ||
			typ.Elem().PkgPath() != reflect.TypeFor[finspace.Handlers]().PkgPath() {
			t.Errorf("%s: NewInput() returns %v, want *finspace.%sRequest", op.Name, typ, op.Name)
		}
		if finspace.OperationByName(op.Name) != op {
			t.Errorf("OperationByName(%q) does not return the operation", op.Name)
		}
		_, idem := in.(restjson.Idempotent)
		if idem != (op.IdempotencyToken != "") {
			t.Errorf("%s: Idempotent = %v but IdempotencyToken = %q", op.Name, idem, op.IdempotencyToken)
		}
	}
	if finspace.OperationByName("NoSuchOperation") != nil {
		t.Error("OperationByName of an unknown name is not nil")
	}
	if _, ok := finspace.OperationByName("CreateEnvironment").NewInput().(*finspace.CreateEnvironmentRequest); !ok {
		t.Error("CreateEnvironment NewInput is not *CreateEnvironmentRequest")
	}
	if _, ok := finspace.OperationByName("CreateKxCluster").NewInput().(*finspace.CreateKxClusterRequest); !ok {
		t.Error("CreateKxCluster NewInput is not *CreateKxClusterRequest")
	}

	tags := map[string]string{}
	for _, op := range finspace.Operations {
		if op.URI == "/tags/{resourceArn}" {
			tags[op.Method] = op.Name
		}
	}
	if want := map[string]string{"GET": "ListTagsForResource", "POST": "TagResource", "DELETE": "UntagResource"}; !reflect.DeepEqual(tags, want) {
		t.Errorf("/tags/{resourceArn} operations = %v, want %v", tags, want)
	}

	create := finspace.OperationByName("CreateEnvironment")
	if !create.Deprecated || create.Method != "POST" || create.URI != "/environment" || create.Pagination != nil {
		t.Errorf("CreateEnvironment = %+v", create)
	}
	cluster := finspace.OperationByName("CreateKxCluster")
	if cluster.IdempotencyToken != "clientToken" || cluster.Deprecated {
		t.Errorf("CreateKxCluster = %+v", cluster)
	}
	if n := strings.Count(strings.Join(cluster.Errors, ","), "AccessDeniedException"); n != 1 {
		t.Errorf("CreateKxCluster lists AccessDeniedException %d times, want 1 (deduplicated)", n)
	}
	if d := finspace.OperationByName("DeleteKxCluster"); d.IdempotencyToken != "clientToken" {
		t.Errorf("DeleteKxCluster IdempotencyToken = %q", d.IdempotencyToken)
	}
}

func TestPagination(t *testing.T) {
	tests := map[string]restjson.Pagination{
		// botocore paginator.
		"ListKxEnvironments": {InputToken: "nextToken", OutputToken: "nextToken", LimitKey: "maxResults",
			ResultKey: "environments", LimitMin: -1, LimitMax: -1},
		// Smithy @paginated only, result from the single list member.
		"ListKxChangesets": {InputToken: "nextToken", OutputToken: "nextToken", LimitKey: "maxResults",
			ResultKey: "kxChangesets", LimitMin: 0, LimitMax: 100},
		// No paginator in either model.
		"ListKxUsers": {InputToken: "nextToken", OutputToken: "nextToken", LimitKey: "maxResults",
			ResultKey: "users", LimitMin: 0, LimitMax: 100},
		"ListEnvironments": {InputToken: "nextToken", OutputToken: "nextToken", LimitKey: "maxResults",
			ResultKey: "environments", LimitMin: 0, LimitMax: 100},
	}
	for name, want := range tests {
		op := finspace.OperationByName(name)
		if op.Pagination == nil {
			t.Errorf("%s: no pagination", name)
			continue
		}
		if *op.Pagination != want {
			t.Errorf("%s: pagination %+v, want %+v", name, *op.Pagination, want)
		}
	}
	n := 0
	for _, op := range finspace.Operations {
		if op.Pagination != nil {
			n++
			if !strings.HasPrefix(op.Name, "List") {
				t.Errorf("%s has pagination", op.Name)
			}
		}
	}
	if n != 10 {
		t.Errorf("%d paginated operations, want 10", n)
	}
	if finspace.OperationByName("ListTagsForResource").Pagination != nil {
		t.Error("ListTagsForResource has pagination")
	}
}

// The operation set and enums match the real Go SDK for the service.
func TestMatchesGoSDK(t *testing.T) {
	client := reflect.TypeFor[*sdk.Client]()
	for _, op := range finspace.Operations {
		if _, ok := client.MethodByName(op.Name); !ok {
			t.Errorf("the Go SDK has no operation %s", op.Name)
		}
	}
	check := func(name string, ours, theirs any) {
		o, s := reflect.ValueOf(ours), reflect.ValueOf(theirs)
		var a, b []string
		for i := range o.Len() {
			a = append(a, o.Index(i).String())
		}
		for i := range s.Len() {
			b = append(b, s.Index(i).String())
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s values %v, Go SDK %v", name, a, b)
		}
	}
	check("KxClusterStatus", finspace.KxClusterStatus("").Values(), sdktypes.KxClusterStatus("").Values())
	check("EnvironmentStatus", finspace.EnvironmentStatus("").Values(), sdktypes.EnvironmentStatus("").Values())
	check("KxClusterType", finspace.KxClusterType("").Values(), sdktypes.KxClusterType("").Values())
	check("TgwStatus", finspace.TgwStatus("").Values(), sdktypes.TgwStatus("").Values())
	if finspace.KxClusterStatusCreateFailed != "CREATE_FAILED" || finspace.EnvironmentStatusCreated != "CREATED" ||
		finspace.KxNAS1TypeSsd1000 != "SSD_1000" {
		t.Error("enum constants")
	}
}

func TestHandlersLookup(t *testing.T) {
	var h finspace.Handlers
	if h.Lookup("CreateEnvironment") != nil {
		t.Error("Lookup of a nil field is not nil")
	}
	if h.Lookup("NoSuchOperation") != nil {
		t.Error("Lookup of an unknown operation is not nil")
	}
	var nilHandlers *finspace.Handlers
	if nilHandlers.Lookup("CreateEnvironment") != nil {
		t.Error("Lookup on a nil *Handlers is not nil")
	}
	boom := errors.New("boom")
	h.CreateEnvironment = func(_ context.Context, in *finspace.CreateEnvironmentRequest) (*finspace.CreateEnvironmentResponse, error) {
		if *in.Name == "fail" {
			return nil, boom
		}
		return &finspace.CreateEnvironmentResponse{EnvironmentId: in.Name}, nil
	}
	fn := h.Lookup("CreateEnvironment")
	if fn == nil {
		t.Fatal("Lookup returned nil for a set field")
	}
	out, err := fn(context.Background(), &finspace.CreateEnvironmentRequest{Name: ptr("e1")})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := out.(*finspace.CreateEnvironmentResponse); !ok || *r.EnvironmentId != "e1" {
		t.Errorf("output %#v", out)
	}
	out, err = fn(context.Background(), &finspace.CreateEnvironmentRequest{Name: ptr("fail")})
	if !errors.Is(err, boom) || out != nil {
		// out must be an untyped nil, not a (*CreateEnvironmentResponse)(nil) in an any.
		t.Errorf("failure: out = %#v, err = %v", out, err)
	}
	if _, err := fn(context.Background(), &finspace.GetEnvironmentRequest{}); err == nil {
		t.Error("a wrong input type is not an error")
	}
}

func TestJSON(t *testing.T) {
	empty, err := json.Marshal(&finspace.ListKxEnvironmentsResponse{Environments: []finspace.KxEnvironment{}})
	if err != nil {
		t.Fatal(err)
	}
	if string(empty) != `{"environments":[]}` {
		t.Errorf("empty list: %s", empty)
	}
	absent, _ := json.Marshal(&finspace.ListKxEnvironmentsResponse{})
	if string(absent) != `{}` {
		t.Errorf("nil list: %s", absent)
	}
	emptyMap, _ := json.Marshal(&finspace.ListTagsForResourceResponse{Tags: map[string]string{}})
	if string(emptyMap) != `{"tags":{}}` {
		t.Errorf("empty map: %s", emptyMap)
	}

	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	env := finspace.KxEnvironment{
		Name:              ptr("e"),
		Status:            ptr(finspace.EnvironmentStatusCreated),
		CreationTimestamp: restjson.NewTimestamp(created),
		UpdateTimestamp:   restjson.NewTimestamp(created.Add(1500 * time.Millisecond)),
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"e","status":"CREATED","creationTimestamp":1704164645,"updateTimestamp":1704164646.500}`
	if string(b) != want {
		t.Errorf("KxEnvironment JSON\n got %s\nwant %s", b, want)
	}
	var back finspace.KxEnvironment
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.CreationTimestamp.Equal(created) || !back.UpdateTimestamp.Equal(created.Add(1500*time.Millisecond)) {
		t.Errorf("round trip: %v %v", back.CreationTimestamp, back.UpdateTimestamp)
	}

	// URI and query members never appear in the body.
	b, _ = json.Marshal(&finspace.DeleteKxClusterRequest{EnvironmentId: ptr("e"), ClusterName: ptr("c"), ClientToken: ptr("t")})
	if string(b) != `{}` {
		t.Errorf("DeleteKxClusterRequest body: %s", b)
	}
	var in finspace.CreateKxClusterRequest
	if err := json.Unmarshal([]byte(`{"environmentId":"x","clusterName":"c","clusterType":"RDB"}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.EnvironmentId != nil || *in.ClusterName != "c" || *in.ClusterType != finspace.KxClusterTypeRdb {
		t.Errorf("decoded %+v", in)
	}
}
