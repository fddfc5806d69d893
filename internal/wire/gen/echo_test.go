package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"sort"
	"strings"
	"testing"
)

// echoShapes adds a record and a summary to the test model: they share id,
// name, color and tags with identical types and count with different types
// (integer in the record, long in the summary); each has a member the
// other lacks.
func echoShapes(s map[string]map[string]any) {
	s["Count"] = map[string]any{"type": "integer"}
	s["BigCount"] = map[string]any{"type": "long"}
	s["Color"] = map[string]any{"type": "string", "enum": []string{"RED", "BLUE"}}
	s["Tags"] = map[string]any{"type": "map", "key": map[string]any{"shape": "Name"}, "value": map[string]any{"shape": "Name"}}
	s["ThingRecord"] = map[string]any{"type": "structure", "members": map[string]any{
		"id":      map[string]any{"shape": "Id"},
		"name":    map[string]any{"shape": "Name"},
		"color":   map[string]any{"shape": "Color"},
		"tags":    map[string]any{"shape": "Tags"},
		"count":   map[string]any{"shape": "Count"},
		"private": map[string]any{"shape": "Name"},
	}}
	s["ThingSummary"] = map[string]any{"type": "structure", "members": map[string]any{
		"id":    map[string]any{"shape": "Id"},
		"name":  map[string]any{"shape": "Name"},
		"color": map[string]any{"shape": "Color"},
		"tags":  map[string]any{"shape": "Tags"},
		"count": map[string]any{"shape": "BigCount"},
		"extra": map[string]any{"shape": "Name"},
	}}
}

// echoFunc parses echo_gen.go of out and returns the declaration of the
// method recv.name and the fields of its returned composite literal, each
// mapped to the in.<field> it is set from.
func echoFunc(t *testing.T, out *serviceOutput, recv, name string) (*ast.FuncDecl, map[string]string) {
	t.Helper()
	var src []byte
	for _, f := range out.wire {
		if f.name == "echo_gen.go" {
			src = f.data
		}
	}
	if src == nil {
		t.Fatal("no echo_gen.go generated")
	}
	file, err := parser.ParseFile(token.NewFileSet(), "echo_gen.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range file.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != name || fn.Recv == nil {
			continue
		}
		if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); !ok || star.X.(*ast.Ident).Name != recv {
			continue
		}
		fields := map[string]string{}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			for _, e := range lit.Elts {
				kv := e.(*ast.KeyValueExpr)
				sel, ok := kv.Value.(*ast.SelectorExpr)
				if !ok || sel.X.(*ast.Ident).Name != "in" {
					t.Fatalf("%s: field %v is not set from in", name, kv.Key)
				}
				fields[kv.Key.(*ast.Ident).Name] = sel.Sel.Name
			}
			return false
		})
		return fn, fields
	}
	t.Fatalf("echo_gen.go has no method (*%s).%s:\n%s", recv, name, src)
	return nil, nil
}

func TestEchoCopiesSharedMembers(t *testing.T) {
	out, err := generateTestService(t, testModel(t, echoShapes), []echo{{"ThingRecord", "ThingSummary"}})
	if err != nil {
		t.Fatal(err)
	}
	fn, fields := echoFunc(t, out, "ThingRecord", "ToThingSummary")
	var got []string
	for field, from := range fields {
		if field != from {
			t.Errorf("field %s is set from in.%s", field, from)
		}
		got = append(got, field)
	}
	sort.Strings(got)
	if want := []string{"Color", "Id", "Name", "Tags"}; !slices.Equal(got, want) {
		t.Errorf("copied %v, want %v (Count differs in type, Extra and Private are not shared)", got, want)
	}
	if res := fn.Type.Results.List[0].Type.(*ast.StarExpr).X.(*ast.Ident).Name; res != "ThingSummary" {
		t.Errorf("returns *%s, want *ThingSummary", res)
	}
	doc := fn.Doc.Text()
	for _, want := range []string{"Left for the caller: Count, Extra.", "Not copied, the types differ: Count."} {
		if !strings.Contains(strings.Join(strings.Fields(doc), " "), want) {
			t.Errorf("doc comment lacks %q:\n%s", want, doc)
		}
	}
}

func TestEchoFileOnlyWhenDeclared(t *testing.T) {
	out, err := generateTestService(t, testModel(t, echoShapes), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.wire {
		if f.name == "echo_gen.go" {
			t.Error("echo_gen.go generated for a service that declares no echo")
		}
	}
}

func TestEchoFails(t *testing.T) {
	tests := []struct {
		name   string
		echoes []echo
		want   string
	}{
		{"unknown shape", []echo{{"ThingRecord", "NoSuchShape"}}, "not a structure"},
		{"not a structure", []echo{{"ThingRecord", "Color"}}, "not a structure"},
		{"onto itself", []echo{{"ThingRecord", "ThingRecord"}}, "onto itself"},
		{"declared twice", []echo{{"ThingRecord", "ThingSummary"}, {"ThingRecord", "ThingSummary"}}, "declared twice"},
		{"nothing shared", []echo{{"ThingRecord", "DoThingResponse"}}, "share no member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := generateTestService(t, testModel(t, echoShapes), tt.echoes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one that mentions %q", err, tt.want)
			}
		})
	}
}
