package main

import (
	"fmt"
	"sort"
)

// goType is the Go type of a value of the shape, without the pointer that
// optional scalar and structure members get.
func (g *gen) goType(name string) string {
	s := g.m.Shapes[name]
	switch s.Type {
	case "structure":
		return g.typeNames[name]
	case "string":
		if len(s.Enum) > 0 {
			return g.typeNames[name]
		}
		return "string"
	case "integer":
		return "int32"
	case "long":
		return "int64"
	case "double":
		return "float64"
	case "boolean":
		return "bool"
	case "timestamp":
		return "shape.Timestamp"
	case "list":
		return "[]" + g.goType(s.Member)
	case "map":
		return "map[string]" + g.goType(s.Value)
	}
	panic("unreachable: shape type " + s.Type)
}

// fieldType is the Go type of a structure member.
func (g *gen) fieldType(name string) string {
	switch g.m.Shapes[name].Type {
	case "list", "map":
		return g.goType(name)
	}
	return "*" + g.goType(name)
}

func (g *gen) usesTimestamp(name string, seen map[string]bool) bool {
	if seen[name] {
		return false
	}
	seen[name] = true
	s := g.m.Shapes[name]
	switch s.Type {
	case "timestamp":
		return true
	case "list":
		return g.usesTimestamp(s.Member, seen)
	case "map":
		return g.usesTimestamp(s.Value, seen)
	}
	return false
}

func (g *gen) sortedTypeShapes() []string {
	names := make([]string, 0, len(g.typeNames))
	for n := range g.typeNames {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return g.typeNames[names[i]] < g.typeNames[names[j]] })
	return names
}

// typesFile emits constants, enums and structures.
func (g *gen) typesFile() (*goFile, error) {
	f := newGoFile("types_gen.go", g.spec.Package, g.source)
	md := g.m.Metadata
	f.doc = fmt.Sprintf("Package %s holds the wire types, validation and operation table of the\n"+
		"%s API (version %s), generated from the botocore model.", g.spec.Package, md.SigningName, md.APIVersion)
	f.p("const (")
	f.p("// SigningName is the SigV4 signing name (metadata.signingName).")
	f.p("SigningName = %q", md.SigningName)
	f.p("// APIVersion is the model's API version.")
	f.p("APIVersion = %q", md.APIVersion)
	f.p("// ServiceID is the model's serviceId.")
	f.p("ServiceID = %q", md.ServiceID)
	if g.json() {
		f.p("// TargetPrefix prefixes the operation name in X-Amz-Target (awsJson %s).", md.JSONVersion)
		f.p("TargetPrefix = %q", md.TargetPrefix)
	}
	f.p(")")
	f.p("")
	for _, name := range g.sortedTypeShapes() {
		s := g.m.Shapes[name]
		goName := g.typeNames[name]
		if s.Type == "string" {
			g.emitEnum(f, s, goName)
			continue
		}
		doc := docLine(s.Documentation)
		if doc != "" {
			f.p("// %s: %s", goName, doc)
		} else {
			f.p("// %s is the model structure %s.", goName, name)
		}
		f.p("type %s struct {", goName)
		for _, mem := range s.Members {
			f.comment(docLine(mem.Documentation))
			tag := fmt.Sprintf("json:%q", mem.WireName()+",omitzero")
			if mem.Location != "" {
				tag = `json:"-"`
			}
			if g.usesTimestamp(mem.Shape, map[string]bool{}) {
				f.use(shapePkg)
			}
			f.p("%s %s `%s`", exportName(mem.Name), g.fieldType(mem.Shape), tag)
		}
		f.p("}")
		f.p("")
	}
	return f, nil
}

func (g *gen) emitEnum(f *goFile, s *shape, goName string) {
	doc := docLine(s.Documentation)
	if doc != "" {
		f.p("// %s: %s", goName, doc)
	} else {
		f.p("// %s is the enum %s.", goName, s.Name)
	}
	f.p("type %s string", goName)
	f.p("")
	f.p("// Values of %s.", goName)
	f.p("const (")
	for _, v := range s.Enum {
		f.p("%s%s %s = %q", goName, enumValueName(v), goName, v)
	}
	f.p(")")
	f.p("")
	f.p("// Values returns every value of %s the model defines, in model order.", goName)
	f.p("func (%s) Values() []%s {", goName, goName)
	f.p("return []%s{", goName)
	for _, v := range s.Enum {
		f.p("%s%s,", goName, enumValueName(v))
	}
	f.p("}")
	f.p("}")
	f.p("")
}
