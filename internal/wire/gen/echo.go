package main

import (
	"fmt"
	"strings"
)

// An echo is a declared conversion between two generated structures that
// share members: a Create request stored and echoed by the Get response, a
// list summary built from the full Get record, an Update response that
// repeats the record. The generator emits
//
//	func (in *From) ToTo() *To
//
// which copies every member that From and To both have under the same name
// with the same Go type; the adapter sets the rest by hand. The list is
// declared rather than inferred so that only conversions an adapter uses
// are generated, and each says what it is for.
type echo struct {
	From, To string // shape names
}

// finspaceEchoes are the echoes of the finspace service (the adapters in
// internal/api/finspace).
var finspaceEchoes = []echo{
	// A cluster's stored configuration is its validated Create request.
	{"CreateKxClusterRequest", "GetKxClusterResponse"},
	{"GetKxClusterResponse", "CreateKxClusterResponse"},
	{"GetKxClusterResponse", "KxCluster"},

	{"GetKxDatabaseResponse", "CreateKxDatabaseResponse"},
	{"GetKxDatabaseResponse", "UpdateKxDatabaseResponse"},
	{"GetKxDatabaseResponse", "KxDatabaseListEntry"},

	{"GetKxChangesetResponse", "CreateKxChangesetResponse"},
	{"GetKxChangesetResponse", "KxChangesetListEntry"},

	{"GetKxScalingGroupResponse", "CreateKxScalingGroupResponse"},
	{"GetKxScalingGroupResponse", "KxScalingGroup"},

	{"GetKxVolumeResponse", "CreateKxVolumeResponse"},
	{"GetKxVolumeResponse", "UpdateKxVolumeResponse"},
	{"GetKxVolumeResponse", "KxVolume"},

	{"GetKxDataviewResponse", "CreateKxDataviewResponse"},
	{"GetKxDataviewResponse", "UpdateKxDataviewResponse"},
	{"GetKxDataviewResponse", "KxDataviewListEntry"},

	{"KxEnvironment", "CreateKxEnvironmentResponse"},
	{"KxEnvironment", "GetKxEnvironmentResponse"},
	{"KxEnvironment", "UpdateKxEnvironmentResponse"},
	{"KxEnvironment", "UpdateKxEnvironmentNetworkResponse"},
}

// finspaceDataEchoes are the echoes of the finspace-data service (the
// adapters in internal/api/finspacedata).
var finspaceDataEchoes = []echo{
	{"Dataset", "GetDatasetResponse"},
	{"ChangesetSummary", "GetChangesetResponse"},
	{"User", "GetUserResponse"},
	{"User", "UserByPermissionGroup"},
}

// echoMethod is the name of the method that converts to shape to.
func (g *gen) echoMethod(to string) string { return "To" + g.typeNames[to] }

// echoMembers splits the members of e.To into those copied from e.From
// (same name, same Go type) and the others; differ lists, among the
// others, those From has with another type.
func (g *gen) echoMembers(e echo) (copied, unset, differ []string) {
	from := map[string]string{} // Go field -> Go type
	for _, mem := range g.m.Shapes[e.From].Members {
		from[exportName(mem.Name)] = g.fieldType(mem.Shape)
	}
	for _, mem := range g.m.Shapes[e.To].Members {
		f := exportName(mem.Name)
		switch t, ok := from[f]; {
		case ok && t == g.fieldType(mem.Shape):
			copied = append(copied, f)
		case ok:
			differ = append(differ, f)
			unset = append(unset, f)
		default:
			unset = append(unset, f)
		}
	}
	return copied, unset, differ
}

// checkEchoes fails on an echo the generator can not emit usefully: an
// unknown or non-structure shape, a pair declared twice, a method name that
// collides with a member, or a pair that shares no member.
func (g *gen) checkEchoes() error {
	seen := map[echo]bool{}
	for _, e := range g.spec.Echoes {
		for _, name := range []string{e.From, e.To} {
			if s, ok := g.m.Shapes[name]; !ok || s.Type != "structure" {
				return fmt.Errorf("echo %s -> %s: %s is not a structure of the model", e.From, e.To, name)
			}
		}
		if e.From == e.To || seen[e] {
			return fmt.Errorf("echo %s -> %s: declared twice or onto itself", e.From, e.To)
		}
		seen[e] = true
		method := g.echoMethod(e.To)
		for _, mem := range g.m.Shapes[e.From].Members {
			if exportName(mem.Name) == method {
				return fmt.Errorf("echo %s -> %s: method %s collides with member %s", e.From, e.To, method, mem.Name)
			}
		}
		if copied, _, _ := g.echoMembers(e); len(copied) == 0 {
			return fmt.Errorf("echo %s -> %s: the shapes share no member of the same type", e.From, e.To)
		}
	}
	return nil
}

// echoFile emits the declared echoes, in declaration order.
func (g *gen) echoFile() (*goFile, error) {
	if err := g.checkEchoes(); err != nil {
		return nil, err
	}
	f := newGoFile("echo_gen.go", g.spec.Package, g.source)
	for _, e := range g.spec.Echoes {
		from, to := g.typeNames[e.From], g.typeNames[e.To]
		copied, unset, differ := g.echoMembers(e)
		method := g.echoMethod(e.To)
		doc := fmt.Sprintf("%s returns the %s that echoes in: the members of the same name "+
			"and type are copied, shallowly (pointers, slices and maps are shared); nil gives nil.", method, to)
		wrapComment(f, doc)
		if len(unset) > 0 {
			f.p("//")
			wrapComment(f, "Left for the caller: "+strings.Join(unset, ", ")+".")
		}
		if len(differ) > 0 {
			wrapComment(f, "Not copied, the types differ: "+strings.Join(differ, ", ")+".")
		}
		f.p("func (in *%s) %s() *%s {", from, method, to)
		f.p("if in == nil {")
		f.p("return nil")
		f.p("}")
		f.p("return &%s{", to)
		for _, m := range copied {
			f.p("%s: in.%s,", m, m)
		}
		f.p("}")
		f.p("}")
		f.p("")
	}
	return f, nil
}

// wrapComment writes text as // lines of at most about 76 characters.
func wrapComment(f *goFile, text string) {
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > 76 {
			f.p("// %s", line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		f.p("// %s", line)
	}
}
