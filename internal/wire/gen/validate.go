package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// bound formats a range bound as a shape.Ptr expression, "nil" when absent.
func bound(n *json.Number, float bool) string {
	if n == nil {
		return "nil"
	}
	if float {
		v, _ := strconv.ParseFloat(n.String(), 64)
		return fmt.Sprintf("shape.Ptr[float64](%s)", strconv.FormatFloat(v, 'g', -1, 64))
	}
	return fmt.Sprintf("shape.Ptr[int64](%s)", n.String())
}

func lenBounds(s *shape) (string, string) {
	min, max := "0", "-1"
	if s.Min != nil {
		min = s.Min.String()
	}
	if s.Max != nil {
		max = s.Max.String()
	}
	return min, max
}

// validateFile emits matchers, enum value sets, BindParams, Validate and
// the interface methods of inputs and outputs.
func (g *gen) validateFile() (*goFile, error) {
	f := newGoFile("validate_gen.go", g.spec.Package, g.source)
	f.use(shapePkg)

	f.p("// memberPath joins a member name to the path of its parent structure.")
	f.p("func memberPath(path, name string) string {")
	f.p("if path == \"\" { return name }")
	f.p("return path + \".\" + name")
	f.p("}")
	f.p("")

	// Operation inputs: BindParams, Validate, idempotency token.
	for _, opName := range g.opNames {
		op := g.m.Operations[opName]
		if err := g.emitInput(f, op); err != nil {
			return nil, err
		}
	}
	// Outputs bound to the status code.
	for _, opName := range g.opNames {
		op := g.m.Operations[opName]
		s := g.m.Shapes[op.Output]
		for _, mem := range s.Members {
			if mem.Location != "statusCode" {
				continue
			}
			goName := g.typeNames[s.Name]
			f.p("var _ shape.StatusCoder = (*%s)(nil)", goName)
			f.p("")
			f.p("// HTTPStatusCode returns %s, which is bound to the HTTP status code.", mem.Name)
			f.p("func (out *%s) HTTPStatusCode() (int, bool) {", goName)
			f.p("if out.%s == nil { return 0, false }", exportName(mem.Name))
			f.p("return int(*out.%s), true", exportName(mem.Name))
			f.p("}")
			f.p("")
		}
	}
	// validate methods of every structure reachable from an input that has
	// something to check.
	var structs []string
	for name := range g.reachable {
		if g.m.Shapes[name].Type == "structure" && g.needsCheck(name) {
			structs = append(structs, name)
		}
	}
	sort.Slice(structs, func(i, j int) bool { return g.typeNames[structs[i]] < g.typeNames[structs[j]] })
	for _, name := range structs {
		g.emitStructValidate(f, g.m.Shapes[name])
	}

	// Matchers and enum value sets used above, declared first.
	body := bytes.Clone(f.body.Bytes())
	f.body.Reset()
	// Matchers, one per distinct pattern, sorted by variable name.
	type pv struct{ pattern, name string }
	var pats []pv
	for p := range g.usedPatterns {
		pats = append(pats, pv{p, g.patterns[p]})
	}
	sort.Slice(pats, func(i, j int) bool { return pats[i].name < pats[j].name })
	if len(pats) > 0 {
		f.p("// Matchers of the model patterns, one per distinct pattern, named after")
		f.p("// the first shape that uses the pattern.")
		f.p("var (")
		for _, p := range pats {
			if shapes := g.patternShapes[p.pattern]; len(shapes) > 1 {
				f.p("// Shapes %s.", strings.Join(shapes, ", "))
			}
			f.p("%s = shape.MustMatcher(%s)", p.name, goString(p.pattern))
		}
		f.p(")")
		f.p("")
	}
	enumShapes := sortedKeys(g.usedEnums)
	sort.Slice(enumShapes, func(i, j int) bool { return g.enumVars[enumShapes[i]] < g.enumVars[enumShapes[j]] })
	if len(enumShapes) > 0 {
		f.p("// Allowed values of the enums, for Validator.Enum.")
		f.p("var (")
		for _, name := range enumShapes {
			vals := make([]string, len(g.m.Shapes[name].Enum))
			for i, v := range g.m.Shapes[name].Enum {
				vals[i] = strconv.Quote(v)
			}
			f.p("%s = []string{%s}", g.enumVars[name], strings.Join(vals, ", "))
		}
		f.p(")")
		f.p("")
	}
	f.body.Write(body)
	return f, nil
}

func (g *gen) emitInput(f *goFile, op *operation) error {
	s := g.m.Shapes[op.Input]
	goName := g.typeNames[s.Name]
	f.p("var _ shape.Input = (*%s)(nil)", goName)
	f.p("")
	// BindParams.
	var params []*member
	for _, mem := range s.Members {
		if mem.Location == "uri" || mem.Location == "querystring" {
			params = append(params, mem)
		}
	}
	f.p("// BindParams sets the members of %s bound to the URI and query string.", goName)
	if len(params) == 0 {
		f.p("func (in *%s) BindParams(shape.Params) error { return nil }", goName)
		f.p("")
	} else {
		f.p("func (in *%s) BindParams(p shape.Params) error {", goName)
		// Every single-valued query member can fail (a repeated
		// parameter); labels and list members cannot.
		needErr := false
		for _, mem := range params {
			t := g.m.Shapes[mem.Shape]
			if mem.Location == "querystring" && t.Type != "list" {
				needErr = true
			}
		}
		if needErr {
			f.p("var err error")
		}
		for _, mem := range params {
			field := "in." + exportName(mem.Name)
			t := g.m.Shapes[mem.Shape]
			wire := strconv.Quote(mem.WireName())
			switch t.Type {
			case "string":
				switch {
				case mem.Location == "uri" && len(t.Enum) > 0:
					f.p("%s = (*%s)(p.PathString(%s))", field, g.typeNames[t.Name], wire)
				case mem.Location == "uri":
					f.p("%s = p.PathString(%s)", field, wire)
				case len(t.Enum) > 0:
					f.p("if %s, err = shape.QueryEnum[%s](p, %s); err != nil { return err }", field, g.typeNames[t.Name], wire)
				default:
					f.p("if %s, err = p.QueryString(%s); err != nil { return err }", field, wire)
				}
			case "integer", "long", "boolean":
				fn := map[string]string{"integer": "QueryInt32", "long": "QueryInt64", "boolean": "QueryBool"}[t.Type]
				f.p("if %s, err = p.%s(%s); err != nil { return err }", field, fn, wire)
			case "list":
				elem := g.m.Shapes[t.Member]
				if len(elem.Enum) > 0 {
					et := g.typeNames[elem.Name]
					f.p("if vs := p.QueryStrings(%s); vs != nil {", wire)
					f.p("%s = make([]%s, len(vs))", field, et)
					f.p("for i, s := range vs { %s[i] = %s(s) }", field, et)
					f.p("} else { %s = nil }", field)
				} else {
					f.p("%s = p.QueryStrings(%s)", field, wire)
				}
			}
		}
		f.p("return nil")
		f.p("}")
		f.p("")
	}
	// Validate.
	f.p("// Validate checks every constraint of the model on %s, nested members included.", goName)
	f.p("func (in *%s) Validate() error {", goName)
	if g.needsCheck(s.Name) {
		f.p("var v shape.Validator")
		f.p("in.validate(&v, \"\")")
		f.p("return v.Err()")
	} else {
		f.p("return nil")
	}
	f.p("}")
	f.p("")
	// Idempotency token.
	for _, mem := range s.Members {
		if !mem.IdempotencyToken {
			continue
		}
		field := exportName(mem.Name)
		f.p("var _ shape.Idempotent = (*%s)(nil)", goName)
		f.p("")
		f.p("// IdempotencyToken returns %s, the idempotency token.", mem.Name)
		f.p("func (in *%s) IdempotencyToken() *string { return in.%s }", goName, field)
		f.p("")
		f.p("// SetIdempotencyToken sets %s, the idempotency token.", mem.Name)
		f.p("func (in *%s) SetIdempotencyToken(t *string) { in.%s = t }", goName, field)
		f.p("")
	}
	return nil
}

func (g *gen) emitStructValidate(f *goFile, s *shape) {
	goName := g.typeNames[s.Name]
	f.p("func (s *%s) validate(v *shape.Validator, path string) {", goName)
	byName := map[string]*member{}
	for _, mem := range s.Members {
		byName[mem.Name] = mem
	}
	// Required members first, in model order of the required list.
	for _, r := range s.Required {
		mem := byName[r]
		f.p("v.Required(memberPath(path, %q), s.%s != nil)", mem.Name, exportName(mem.Name))
	}
	for _, mem := range s.Members {
		if !g.needsCheck(mem.Shape) {
			continue
		}
		t := g.m.Shapes[mem.Shape]
		field := "s." + exportName(mem.Name)
		f.p("if x := %s; x != nil {", field)
		f.p("p := memberPath(path, %q)", mem.Name)
		switch t.Type {
		case "structure":
			f.p("x.validate(v, p)")
		case "list", "map":
			g.emitCollection(f, t, "x", "p", 1)
		default:
			g.emitScalar(f, t, "*x", "p")
		}
		f.p("}")
	}
	f.p("}")
	f.p("")
}

// emitScalar checks a non-pointer string or number value.
func (g *gen) emitScalar(f *goFile, s *shape, val, path string) {
	switch s.Type {
	case "string":
		str := val
		if len(s.Enum) > 0 {
			str = "string(" + val + ")"
		}
		if g.hasLen(s) {
			min, max := lenBounds(s)
			f.p("v.Len(%s, %s, %s, %s)", path, str, min, max)
		}
		if s.Pattern != nil {
			f.p("v.Pattern(%s, %s, %s)", path, str, g.patterns[*s.Pattern])
			g.usedPatterns[*s.Pattern] = true
		}
		if len(s.Enum) > 0 {
			f.p("v.Enum(%s, %s, %s)", path, str, g.enumVars[s.Name])
			g.usedEnums[s.Name] = true
		}
	case "integer", "long":
		if s.Min != nil || s.Max != nil {
			f.p("v.RangeInt(%s, int64(%s), %s, %s)", path, val, bound(s.Min, false), bound(s.Max, false))
		}
	case "double":
		if s.Min != nil || s.Max != nil {
			f.p("v.RangeFloat(%s, %s, %s, %s)", path, val, bound(s.Min, true), bound(s.Max, true))
		}
	}
}

// emitCollection checks a non-nil list or map held in variable x whose
// path is in variable p; depth makes nested variable names unique.
func (g *gen) emitCollection(f *goFile, s *shape, x, p string, depth int) {
	if g.hasLen(s) {
		min, max := lenBounds(s)
		f.p("v.Size(%s, len(%s), %s, %s)", p, x, min, max)
	}
	d := strconv.Itoa(depth)
	switch s.Type {
	case "list":
		if !g.needsCheck(s.Member) {
			return
		}
		i, pi := "i"+d, "p"+d
		f.use("strconv")
		f.p("for %s := range %s {", i, x)
		f.p("%s := %s + \"[\" + strconv.Itoa(%s) + \"]\"", pi, p, i)
		g.emitElement(f, g.m.Shapes[s.Member], x+"["+i+"]", pi, depth)
		f.p("}")
	case "map":
		key, val := g.needsCheck(s.Key), g.needsCheck(s.Value)
		if !key && !val {
			return
		}
		k := "k" + d
		f.use("maps")
		f.use("slices")
		f.p("for _, %s := range slices.Sorted(maps.Keys(%s)) {", k, x)
		if key {
			g.emitScalar(f, g.m.Shapes[s.Key], k, p+`+".key"`)
		}
		if val {
			e := "e" + d
			f.p("%s := %s[%s]", e, x, k)
			g.emitElement(f, g.m.Shapes[s.Value], e, p+`+".value"`, depth)
		}
		f.p("}")
	}
}

// emitElement checks a list element or map value (an addressable or local
// non-pointer value) at path expression p.
func (g *gen) emitElement(f *goFile, s *shape, val, p string, depth int) {
	switch s.Type {
	case "structure":
		f.p("%s.validate(v, %s)", val, p)
	case "list", "map":
		d := strconv.Itoa(depth + 1)
		x, pp := "x"+d, "p"+d
		f.p("if %s := %s; %s != nil {", x, val, x)
		f.p("%s := %s", pp, p)
		g.emitCollection(f, s, x, pp, depth+1)
		f.p("}")
	default:
		g.emitScalar(f, s, val, p)
	}
}
