package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	modelsDir     = "../../../api/models"
	wireDir       = ".."
	testClientDir = "../../testclient/finspacedata"
)

// TestGeneratedFilesUpToDate regenerates every file into a temporary
// directory and compares it byte for byte with the committed one, so stale
// generated code fails go test. Run `go generate ./internal/wire/...` to fix.
func TestGeneratedFilesUpToDate(t *testing.T) {
	tmp := t.TempDir()
	tmpWire, tmpClient := filepath.Join(tmp, "wire"), filepath.Join(tmp, "testclient")
	files, err := Generate(Config{ModelsDir: modelsDir, WireDir: tmpWire, TestClientDir: tmpClient})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(files); err != nil {
		t.Fatal(err)
	}
	generated := map[string]bool{}
	for _, f := range files {
		var committed string
		if rel, err := filepath.Rel(tmpWire, f.Path); err == nil && !strings.HasPrefix(rel, "..") {
			committed = filepath.Join(wireDir, rel)
		} else if rel, err := filepath.Rel(tmpClient, f.Path); err == nil && !strings.HasPrefix(rel, "..") {
			committed = filepath.Join(testClientDir, rel)
		} else {
			t.Fatalf("generated file %s outside the output directories", f.Path)
		}
		generated[filepath.Clean(committed)] = true
		written, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(committed)
		if err != nil {
			t.Errorf("%s: %v (run go generate ./internal/wire/...)", committed, err)
			continue
		}
		if !bytes.Equal(written, want) {
			t.Errorf("%s is stale: run go generate ./internal/wire/...", committed)
		}
	}
	if len(files) != 12 {
		t.Errorf("generated %d files, want 12 (3 per service, echoes of finspace and finspacedata, the test client)", len(files))
	}
	// A committed *_gen.go the generator no longer produces is stale too.
	for _, dir := range []string{filepath.Join(wireDir, "finspace"), filepath.Join(wireDir, "finspacedata"), filepath.Join(wireDir, "glue"), testClientDir} {
		matches, err := filepath.Glob(filepath.Join(dir, "*_gen.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if !generated[filepath.Clean(m)] {
				t.Errorf("%s is not produced by the generator any more: delete it", m)
			}
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	cfg := Config{ModelsDir: modelsDir, WireDir: "w", TestClientDir: "c"}
	a, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("runs produced %d and %d files", len(a), len(b))
	}
	for i := range a {
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s differs between two runs", a[i].Path)
		}
	}
	for _, f := range a {
		if !bytes.HasPrefix(f.Data, []byte(header)) {
			t.Errorf("%s lacks the generated-code header", f.Path)
		}
	}
}

// testModel returns a small valid service model; edit changes it before it
// is encoded.
func testModel(t *testing.T, edit func(shapes map[string]map[string]any)) []byte {
	t.Helper()
	shapes := map[string]map[string]any{
		"DoThingRequest": {
			"type":     "structure",
			"required": []string{"id"},
			"members": map[string]any{
				"id":          map[string]any{"shape": "Id", "location": "uri", "locationName": "id"},
				"name":        map[string]any{"shape": "Name"},
				"clientToken": map[string]any{"shape": "Id", "idempotencyToken": true},
			},
		},
		"DoThingResponse": {"type": "structure", "members": map[string]any{}},
		"Id":              {"type": "string", "min": 1, "max": 10},
		"Name":            {"type": "string", "pattern": "^[a-z]+$"},
		"ValidationException": {
			"type":      "structure",
			"members":   map[string]any{"message": map[string]any{"shape": "Id"}},
			"error":     map[string]any{"httpStatusCode": 400},
			"exception": true,
		},
	}
	if edit != nil {
		edit(shapes)
	}
	m := map[string]any{
		"version": "2.0",
		"metadata": map[string]any{
			"apiVersion": "2020-01-01", "protocol": "rest-json", "signingName": "test", "serviceId": "test",
		},
		"operations": map[string]any{
			"DoThing": map[string]any{
				"name":   "DoThing",
				"http":   map[string]any{"method": "POST", "requestUri": "/things/{id}"},
				"input":  map[string]any{"shape": "DoThingRequest"},
				"output": map[string]any{"shape": "DoThingResponse"},
				"errors": []any{map[string]any{"shape": "ValidationException"}},
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

func generateTestModel(t *testing.T, data []byte) error {
	t.Helper()
	_, err := generateTestService(t, data, nil)
	return err
}

func generateTestService(t *testing.T, data []byte, echoes []echo) (*serviceOutput, error) {
	t.Helper()
	m, err := loadModel(data, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	return generateService(serviceSpec{Model: "test", Package: "test", Dir: "test", Echoes: echoes}, m)
}

func TestGenerateTestModel(t *testing.T) {
	if err := generateTestModel(t, testModel(t, nil)); err != nil {
		t.Fatalf("the valid test model does not generate: %v", err)
	}
	// A pattern Go can not compile but shape matches by hand is fine.
	err := generateTestModel(t, testModel(t, func(s map[string]map[string]any) {
		s["Name"]["pattern"] = `^(?!aws:)[a-zA-Z+-=._:/]+$`
	}))
	if err != nil {
		t.Fatalf("manual pattern rejected: %v", err)
	}
}

func TestGenerateFails(t *testing.T) {
	tests := []struct {
		name string
		edit func(map[string]map[string]any)
		want string
	}{
		{
			name: "pattern neither RE2 nor manual",
			edit: func(s map[string]map[string]any) { s["Name"]["pattern"] = `^(?<=a)b$` },
			want: "neither compiles",
		},
		{
			name: "repeat count over 1000",
			edit: func(s map[string]map[string]any) { s["Name"]["pattern"] = `^a{1,1001}$` },
			want: "neither compiles",
		},
		{
			name: "two shapes map to one Go name",
			edit: func(s map[string]map[string]any) {
				s["thing"] = map[string]any{"type": "structure", "members": map[string]any{}}
				s["Thing"] = map[string]any{"type": "structure", "members": map[string]any{}}
			},
			want: "collision",
		},
		{
			name: "enum constant collides with a type",
			edit: func(s map[string]map[string]any) {
				s["Color"] = map[string]any{"type": "string", "enum": []string{"RED"}}
				s["ColorRed"] = map[string]any{"type": "structure", "members": map[string]any{}}
			},
			want: "collision",
		},
		{
			name: "unknown shape type",
			edit: func(s map[string]map[string]any) { s["Name"] = map[string]any{"type": "blob"} },
			want: `unknown shape type "blob"`,
		},
		{
			name: "unknown location",
			edit: func(s map[string]map[string]any) {
				s["DoThingRequest"]["members"].(map[string]any)["name"] = map[string]any{"shape": "Name", "location": "header", "locationName": "X-Name"}
			},
			want: `unknown location "header"`,
		},
		{
			name: "unknown member trait",
			edit: func(s map[string]map[string]any) {
				s["DoThingRequest"]["members"].(map[string]any)["name"] = map[string]any{"shape": "Name", "jsonvalue": true}
			},
			want: "unknown key(s) jsonvalue",
		},
		{
			name: "unknown shape trait",
			edit: func(s map[string]map[string]any) { s["Name"]["timestampFormat"] = "iso8601" },
			want: "unknown key(s) timestampFormat",
		},
		{
			name: "label without member",
			edit: func(s map[string]map[string]any) {
				s["DoThingRequest"]["members"].(map[string]any)["id"] = map[string]any{"shape": "Id"}
			},
			want: "label {id} has no input member",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := generateTestModel(t, testModel(t, tt.edit))
			if err == nil {
				t.Fatal("generation succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestEnumValueName(t *testing.T) {
	for in, want := range map[string]string{
		"CREATE_FAILED": "CreateFailed",
		"SSD_1000":      "Ssd1000",
		"IP_V4":         "IpV4",
		"allow":         "Allow",
		"CreateDataset": "CreateDataset",
		"The inputs to this request are invalid.": "TheInputsToThisRequestAreInvalid",
		"1abc": "Value1abc",
	} {
		if got := enumValueName(in); got != want {
			t.Errorf("enumValueName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDocLine(t *testing.T) {
	for in, want := range map[string]string{
		"<p>Create a new FinSpace environment.</p>":             "Create a new FinSpace environment.",
		"<p> The value of <code>x</code> . More text here.</p>": "The value of x.",
		"<p>First. Second.</p>":                                 "First.",
		"":                                                      "",
	} {
		if got := docLine(in); got != want {
			t.Errorf("docLine(%q) = %q, want %q", in, got, want)
		}
	}
}
