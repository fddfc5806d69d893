package finspacedata_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

func ptr[T any](v T) *T { return &v }

type violation struct{ member, constraint string }

func checkViolations(t *testing.T, err error, want ...violation) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	var ve *restjson.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v (%T), want *restjson.ValidationError", err, err)
	}
	for _, w := range want {
		found := false
		for _, v := range ve.Violations {
			if v.Member == w.member && strings.Contains(v.Constraint, w.constraint) {
				found = true
			}
		}
		if !found {
			t.Errorf("no violation %q at %q in %v", w.constraint, w.member, ve.Violations)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		in   restjson.Input
		want []violation
	}{
		{"ListUsers without maxResults", &finspacedata.ListUsersRequest{},
			[]violation{{"maxResults", "must not be null"}}},
		{"ListUsers maxResults 0", &finspacedata.ListUsersRequest{MaxResults: ptr(int32(0))},
			[]violation{{"maxResults", "greater than or equal to 1"}}},
		{"ListUsers ok", &finspacedata.ListUsersRequest{MaxResults: ptr(int32(100))}, nil},
		{"credentials 61 minutes", &finspacedata.GetProgrammaticAccessCredentialsRequest{
			EnvironmentId: ptr("env1"), DurationInMinutes: ptr(int64(61))},
			[]violation{{"durationInMinutes", "less than or equal to 60"}}},
		{"credentials 60 minutes", &finspacedata.GetProgrammaticAccessCredentialsRequest{
			EnvironmentId: ptr("env1"), DurationInMinutes: ptr(int64(60))}, nil},
		{"credentials without environment", &finspacedata.GetProgrammaticAccessCredentialsRequest{},
			[]violation{{"environmentId", "must not be null"}}},
		{"CreateUser ok", &finspacedata.CreateUserRequest{
			EmailAddress: ptr("user@example.com"), Type: ptr(finspacedata.UserTypeAppUser)}, nil},
		{"CreateUser bad", &finspacedata.CreateUserRequest{
			EmailAddress: ptr("user@example"), Type: ptr(finspacedata.UserType("ADMIN")),
			ApiAccess: ptr(finspacedata.ApiAccess("maybe"))},
			[]violation{{"emailAddress", "pattern"}, {"type", "enum value set: [SUPER_USER, APP_USER]"},
				{"apiAccess", "enum value set"}}},
		{"CreatePermissionGroup enum list", &finspacedata.CreatePermissionGroupRequest{
			Name: ptr("g"), ApplicationPermissions: []finspacedata.ApplicationPermission{"CreateDataset", "Nope"}},
			[]violation{{"applicationPermissions[1]", "enum value set"}}},
		{"GetDataView required labels", &finspacedata.GetDataViewRequest{},
			[]violation{{"dataViewId", "must not be null"}, {"datasetId", "must not be null"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkViolations(t, tt.in.Validate(), tt.want...)
		})
	}
}

func TestBindParams(t *testing.T) {
	var get finspacedata.GetDataViewRequest
	err := get.BindParams(restjson.Params{Path: map[string]string{"dataviewId": "dv1", "datasetId": "ds1"}})
	if err != nil {
		t.Fatal(err)
	}
	if get.DataViewId == nil || *get.DataViewId != "dv1" || get.DatasetId == nil || *get.DatasetId != "ds1" {
		t.Errorf("GetDataView bound %+v", get)
	}

	var creds finspacedata.GetProgrammaticAccessCredentialsRequest
	err = creds.BindParams(restjson.Params{Query: url.Values{"environmentId": {"e"}, "durationInMinutes": {"30"}}})
	if err != nil {
		t.Fatal(err)
	}
	if *creds.DurationInMinutes != 30 || *creds.EnvironmentId != "e" {
		t.Errorf("credentials bound %+v", creds)
	}
	err = creds.BindParams(restjson.Params{Query: url.Values{"durationInMinutes": {"1.5"}}})
	var ve *restjson.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("bad integer: err = %v, want *restjson.ValidationError", err)
	}

	var del finspacedata.DeleteDatasetRequest
	if err := del.BindParams(restjson.Params{
		Path: map[string]string{"datasetId": "d"}, Query: url.Values{"clientToken": {"tok"}},
	}); err != nil {
		t.Fatal(err)
	}
	if *del.ClientToken != "tok" || *del.IdempotencyToken() != "tok" {
		t.Errorf("DeleteDataset bound %+v", del)
	}
}

func TestStatusCoder(t *testing.T) {
	var out any = &finspacedata.AssociateUserToPermissionGroupResponse{StatusCode: ptr(int32(200))}
	sc, ok := out.(restjson.StatusCoder)
	if !ok {
		t.Fatal("AssociateUserToPermissionGroupResponse does not implement restjson.StatusCoder")
	}
	if code, set := sc.HTTPStatusCode(); code != 200 || !set {
		t.Errorf("HTTPStatusCode() = %d, %v", code, set)
	}
	if _, set := (&finspacedata.DisassociateUserFromPermissionGroupResponse{}).HTTPStatusCode(); set {
		t.Error("unset status code reported as set")
	}
	b, _ := json.Marshal(out)
	if string(b) != `{}` {
		t.Errorf("the status code member is in the body: %s", b)
	}
	if _, ok := any(&finspacedata.GetUserResponse{}).(restjson.StatusCoder); ok {
		t.Error("GetUserResponse implements StatusCoder")
	}
}

func TestJSON(t *testing.T) {
	b, _ := json.Marshal(&finspacedata.ListUsersResponse{Users: []finspacedata.User{}})
	if string(b) != `{"users":[]}` {
		t.Errorf("empty list: %s", b)
	}
	b, _ = json.Marshal(&finspacedata.ListUsersResponse{})
	if string(b) != `{}` {
		t.Errorf("nil list: %s", b)
	}
	// finspace-data times are TimestampEpoch longs (milliseconds), plain integers.
	b, _ = json.Marshal(&finspacedata.User{CreateTime: ptr(int64(1700000000123))})
	if string(b) != `{"createTime":1700000000123}` {
		t.Errorf("TimestampEpoch: %s", b)
	}
}

func TestOperations(t *testing.T) {
	if got := len(finspacedata.Operations); got != 31 {
		t.Fatalf("%d operations, want 31", got)
	}
	if !slices.IsSortedFunc(finspacedata.Operations, func(a, b *restjson.Operation) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Operations is not sorted by name")
	}
	for _, op := range finspacedata.Operations {
		if op.Service != "finspace-api" || !op.Deprecated || op.SuccessCode != 200 {
			t.Errorf("%s: %+v", op.Name, op)
		}
		typ := reflect.TypeOf(op.NewInput())
		if typ.Kind() != reflect.Pointer || typ.Elem().Name() != op.Name+"Request" {
			t.Errorf("%s: NewInput() returns %v", op.Name, typ)
		}
		if finspacedata.OperationByName(op.Name) != op {
			t.Errorf("OperationByName(%q)", op.Name)
		}
	}
	if _, ok := finspacedata.OperationByName("GetDataView").NewInput().(*finspacedata.GetDataViewRequest); !ok {
		t.Error("GetDataView NewInput")
	}
	users := finspacedata.OperationByName("ListUsers").Pagination
	want := restjson.Pagination{InputToken: "nextToken", OutputToken: "nextToken", LimitKey: "maxResults",
		ResultKey: "users", LimitMin: 1, LimitMax: 100, LimitRequired: true}
	if users == nil || *users != want {
		t.Errorf("ListUsers pagination %+v, want %+v", users, want)
	}
	if p := finspacedata.OperationByName("ListDatasets").Pagination; p == nil || p.LimitRequired || p.ResultKey != "datasets" {
		t.Errorf("ListDatasets pagination %+v", p)
	}
	if p := finspacedata.OperationByName("ListPermissionGroupsByUser").Pagination; p == nil || !p.LimitRequired || p.ResultKey != "permissionGroups" {
		t.Errorf("ListPermissionGroupsByUser pagination %+v", p)
	}
	gdv := finspacedata.OperationByName("GetDataView")
	if gdv.URI != "/datasets/{datasetId}/dataviewsv2/{dataviewId}" || gdv.Method != "GET" {
		t.Errorf("GetDataView %+v", gdv)
	}
	if finspacedata.SigningName != "finspace-api" || finspacedata.APIVersion != "2020-07-13" || finspacedata.ServiceID != "finspace data" {
		t.Error("service constants")
	}
	if finspacedata.ErrorHTTPStatus("ThrottlingException") != 429 || finspacedata.ErrorHTTPStatus("Nope") != 0 {
		t.Error("ErrorHTTPStatus")
	}
}
