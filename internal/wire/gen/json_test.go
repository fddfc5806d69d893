package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// jsonTestModel returns a small awsJson 1.1 model with two operations, of
// which GetThing is the generated subset; edit changes the shapes before
// the model is encoded. The omitted operation's shapes use features the
// generator does not support (a blob, a union), which must not matter.
func jsonTestModel(t *testing.T, edit func(shapes map[string]map[string]any)) []byte {
	t.Helper()
	shapes := map[string]map[string]any{
		"GetThingRequest": {
			"type":     "structure",
			"required": []string{"Name"},
			"members": map[string]any{
				"Name":       map[string]any{"shape": "NameString"},
				"NextToken":  map[string]any{"shape": "Token"},
				"MaxResults": map[string]any{"shape": "PageSize", "box": true},
			},
		},
		"GetThingResponse": {"type": "structure", "members": map[string]any{
			"Things":    map[string]any{"shape": "ThingList"},
			"NextToken": map[string]any{"shape": "Token"},
		}},
		"ThingList":  {"type": "list", "member": map[string]any{"shape": "NameString"}},
		"NameString": {"type": "string", "min": 1, "max": 255, "pattern": `[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*`},
		"Token":      {"type": "string"},
		"PageSize":   {"type": "integer", "box": true, "min": 1, "max": 100},
		"EntityNotFoundException": {"type": "structure", "exception": true,
			"members": map[string]any{"Message": map[string]any{"shape": "Token"}}},
		"InternalServiceException": {"type": "structure", "exception": true, "fault": true,
			"members": map[string]any{"Message": map[string]any{"shape": "Token"}}},
		"PutBlobRequest":  {"type": "structure", "members": map[string]any{"Data": map[string]any{"shape": "Blob"}, "U": map[string]any{"shape": "AUnion"}}},
		"PutBlobResponse": {"type": "structure", "members": map[string]any{}},
		"Blob":            {"type": "blob"},
		"AUnion":          {"type": "structure", "union": true, "members": map[string]any{}},
	}
	if edit != nil {
		edit(shapes)
	}
	m := map[string]any{
		"version": "2.0",
		"metadata": map[string]any{
			"apiVersion": "2020-01-01", "protocol": "json", "jsonVersion": "1.1", "endpointPrefix": "thing",
			"serviceId": "Thing", "targetPrefix": "AWSThing",
		},
		"operations": map[string]any{
			"GetThing": map[string]any{
				"name": "GetThing", "http": map[string]any{"method": "POST", "requestUri": "/"},
				"input": map[string]any{"shape": "GetThingRequest"}, "output": map[string]any{"shape": "GetThingResponse"},
				"errors": []any{map[string]any{"shape": "EntityNotFoundException"}, map[string]any{"shape": "InternalServiceException"}},
			},
			"PutBlob": map[string]any{
				"name": "PutBlob", "http": map[string]any{"method": "POST", "requestUri": "/"}, "idempotent": true,
				"input": map[string]any{"shape": "PutBlobRequest"}, "output": map[string]any{"shape": "PutBlobResponse"},
			},
		},
		"shapes": shapes,
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const jsonTestPaginators = `{"pagination": {"GetThing": {"input_token": "NextToken", "output_token": "NextToken",
 "limit_key": "MaxResults", "result_key": "Things"}, "PutBlob": {"input_token": ["A", "B"], "more_results": "X"}}}`

// generateJSON generates the test model's GetThing subset and returns the
// generated files by name.
func generateJSON(t *testing.T, data []byte, subset []string) (map[string]string, error) {
	t.Helper()
	m, err := loadModel(data, []byte(jsonTestPaginators), nil, subset)
	if err != nil {
		return nil, err
	}
	out, err := generateService(serviceSpec{Model: "thing", Package: "thing", Dir: "thing", Operations: subset}, m)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, f := range out.wire {
		files[f.name] = string(f.data)
	}
	return files, nil
}

func TestGenerateJSONSubset(t *testing.T) {
	files, err := generateJSON(t, jsonTestModel(t, nil), []string{"GetThing"})
	if err != nil {
		t.Fatal(err)
	}
	// Compared with runs of blanks collapsed: gofmt aligns columns.
	flat := func(s string) string {
		return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
	}
	types, ops, validate := flat(files["types_gen.go"]), flat(files["operations_gen.go"]), flat(files["validate_gen.go"])
	for _, want := range []string{
		`SigningName = "thing"`, // endpointPrefix, as botocore signs without signingName
		`TargetPrefix = "AWSThing"`,
		"type GetThingRequest struct",
		"Name *string `json:\"Name,omitzero\"`",
		"MaxResults *int32 `json:\"MaxResults,omitzero\"`",
		"type EntityNotFoundException struct",
	} {
		if !strings.Contains(types, flat(want)) {
			t.Errorf("types_gen.go lacks %q", want)
		}
	}
	// The omitted operation's shapes are not generated.
	for _, absent := range []string{"PutBlobRequest", "AUnion", "Blob"} {
		if strings.Contains(types, absent) {
			t.Errorf("types_gen.go declares %s, a shape of an omitted operation", absent)
		}
	}
	for _, want := range []string{
		// Every operation is in the table, keyed by its target.
		`{Service: SigningName, Name: "PutBlob", Target: "AWSThing.PutBlob", Method: "POST", URI: "/", SuccessCode: 200},`,
		`Target:      "AWSThing.GetThing",`,
		`Errors:      []string{"EntityNotFoundException", "InternalServiceException"},`,
		`InputToken:    "NextToken",`,
		`LimitKey:      "MaxResults",`,
		`ResultKey:     "Things",`,
		`LimitMax:      100,`,
		"NewInput: func() shape.Input { return new(GetThingRequest) },",
		"func OperationByTarget(target string) *shape.Operation",
		"case \"EntityNotFoundException\":\n return 400",
		"case \"InternalServiceException\":\n return 500", // a fault
		"GetThing func(context.Context, *GetThingRequest) (*GetThingResponse, error)",
	} {
		if !strings.Contains(ops, flat(want)) {
			t.Errorf("operations_gen.go lacks %q", want)
		}
	}
	if strings.Contains(ops, "PutBlob func(") {
		t.Error("the Handlers struct has a field for an omitted operation")
	}
	for _, want := range []string{
		`v.Required(memberPath(path, "Name"), s.Name != nil)`,
		`v.Len(p, *x, 1, 255)`,
		`v.RangeInt(p, int64(*x), shape.Ptr[int64](1), shape.Ptr[int64](100))`,
		// The pattern keeps the model's spelling; shape.MustMatcher rewrites
		// its \u escapes for RE2.
		"shape.MustMatcher(`[\\u0020-\\uD7FF",
	} {
		if !strings.Contains(validate, flat(want)) {
			t.Errorf("validate_gen.go lacks %q", want)
		}
	}
}

func TestGenerateJSONFails(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(map[string]map[string]any)
		subset []string
		want   string
	}{
		{
			name:   "unsupported shape type reached by the subset",
			edit:   func(s map[string]map[string]any) { s["Token"] = map[string]any{"type": "blob"} },
			subset: []string{"GetThing"},
			want:   `unknown shape type "blob"`,
		},
		{
			name:   "every operation generated reaches the blob",
			subset: []string{"GetThing", "PutBlob"},
			want:   `unknown shape type "blob"`,
		},
		{
			name: "member location in an awsJson model",
			edit: func(s map[string]map[string]any) {
				s["GetThingRequest"]["members"].(map[string]any)["Name"] = map[string]any{"shape": "NameString", "location": "querystring", "locationName": "name"}
			},
			subset: []string{"GetThing"},
			want:   `location "querystring" in a protocol json model`,
		},
		{
			name:   "subset names an unknown operation",
			subset: []string{"GetThing", "Nope"},
			want:   "the model has no operation Nope",
		},
		{
			name:   "lone surrogate in a pattern",
			edit:   func(s map[string]map[string]any) { s["NameString"]["pattern"] = `[\uD800]` },
			subset: []string{"GetThing"},
			want:   "high surrogate",
		},
		{
			name:   "fault on a shape that is not an exception",
			edit:   func(s map[string]map[string]any) { s["GetThingResponse"]["fault"] = true },
			subset: []string{"GetThing"},
			want:   "fault on a shape that is not an exception",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := generateJSON(t, jsonTestModel(t, tt.edit), tt.subset)
			if err == nil {
				t.Fatal("generation succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// A rest-json model takes no subset: its table is generated whole.
func TestRestJSONRefusesSubset(t *testing.T) {
	if _, err := loadModel(testModel(t, nil), nil, nil, []string{"DoThing"}); err == nil || !strings.Contains(err.Error(), "protocol json only") {
		t.Fatalf("loadModel with a subset of a rest-json model = %v", err)
	}
}
