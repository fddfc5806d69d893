package main

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// clientFile emits the per-operation methods of the typed test client. The
// rest of the client (Client, APIError, signing and transport) is
// hand-written in the client package (client.go).
func (g *gen) clientFile() (*goFile, error) {
	wirePkg := modulePath + "/internal/wire/" + path.Clean(g.spec.Dir)
	f := newGoFile("client_gen.go", "fdclient", g.source)
	f.use("context")
	f.use(wirePkg)
	w := g.spec.Package // package name qualifier
	for _, name := range g.opNames {
		op := g.m.Operations[name]
		in := g.m.Shapes[op.Input]
		out := g.m.Shapes[op.Output]
		inT, outT := w+"."+g.typeNames[in.Name], w+"."+g.typeNames[out.Name]
		f.p("// %s calls %s %s.", name, op.Method, op.RequestURI)
		if d := docLine(op.Documentation); d != "" {
			f.p("//")
			f.p("// %s", d)
		}
		if op.Deprecated {
			f.p("//")
			msg := op.DeprecatedMessage
			if msg == "" {
				msg = "The operation is deprecated."
			}
			// Not a "Deprecated:" paragraph: every finspace-data operation is
			// deprecated, and linters would flag every test that calls one.
			f.p("// The model marks the operation deprecated: %s", msg)
		}
		f.p("func (c *Client) %s(ctx context.Context, in *%s) (*%s, error) {", name, inT, outT)
		f.p("if in == nil { in = new(%s) }", inT)
		hasBody := false
		for _, mem := range in.Members {
			if mem.Location == "" {
				hasBody = true
			}
			if mem.IdempotencyToken {
				field := "in." + exportName(mem.Name)
				f.p("if %s == nil {", field)
				f.p("// Like the AWS SDKs, fill in a random token; copy so the caller's input is not modified.")
				f.p("cp := *in")
				f.p("cp.%s = newIdempotencyToken()", exportName(mem.Name))
				f.p("in = &cp")
				f.p("}")
			}
		}
		// URI labels.
		label := map[string]*member{}
		for _, mem := range in.Members {
			if mem.Location != "uri" {
				continue
			}
			label[mem.WireName()] = mem
			field := "in." + exportName(mem.Name)
			f.p("if %s == nil || *%s == \"\" { return nil, missingLabel(%q, %q) }", field, field, name, mem.Name)
		}
		var parts []string
		rest := op.RequestURI
		for {
			i := strings.Index(rest, "{")
			if i < 0 {
				break
			}
			j := strings.Index(rest, "}")
			if j < i {
				return nil, fmt.Errorf("operation %s: malformed URI %q", name, op.RequestURI)
			}
			if i > 0 {
				parts = append(parts, strconv.Quote(rest[:i]))
			}
			mem := label[rest[i+1:j]]
			val := "*in." + exportName(mem.Name)
			if len(g.m.Shapes[mem.Shape].Enum) > 0 {
				val = "string(" + val + ")"
			}
			parts = append(parts, "escapeLabel("+val+")")
			rest = rest[j+1:]
		}
		if rest != "" {
			parts = append(parts, strconv.Quote(rest))
		}
		f.p("path := %s", strings.Join(parts, " + "))
		// Query string.
		query := "nil"
		for _, mem := range in.Members {
			if mem.Location != "querystring" {
				continue
			}
			if query == "nil" {
				f.use("net/url")
				f.p("q := url.Values{}")
				query = "q"
			}
			field := "in." + exportName(mem.Name)
			wire := strconv.Quote(mem.WireName())
			t := g.m.Shapes[mem.Shape]
			switch t.Type {
			case "string":
				val := "*" + field
				if len(t.Enum) > 0 {
					val = "string(" + val + ")"
				}
				f.p("if %s != nil { q.Set(%s, %s) }", field, wire, val)
			case "integer", "long":
				f.use("strconv")
				f.p("if %s != nil { q.Set(%s, strconv.FormatInt(int64(*%s), 10)) }", field, wire, field)
			case "boolean":
				f.use("strconv")
				f.p("if %s != nil { q.Set(%s, strconv.FormatBool(*%s)) }", field, wire, field)
			case "list":
				val := "s"
				if len(g.m.Shapes[t.Member].Enum) > 0 {
					val = "string(s)"
				}
				f.p("for _, s := range %s { q.Add(%s, %s) }", field, wire, val)
			default:
				return nil, fmt.Errorf("operation %s: query member %s of type %s", name, mem.Name, t.Type)
			}
		}
		body := "nil"
		if hasBody {
			body = "in"
		}
		f.p("out := new(%s)", outT)
		status := "_"
		for _, mem := range out.Members {
			if mem.Location == "statusCode" {
				status = "status"
			}
		}
		f.p("%s, err := c.do(ctx, %q, %q, path, %s, %s, out)", status, name, op.Method, query, body)
		f.p("if err != nil { return nil, err }")
		for _, mem := range out.Members {
			if mem.Location == "statusCode" {
				f.p("code := int32(status)")
				f.p("out.%s = &code", exportName(mem.Name))
			}
		}
		f.p("return out, nil")
		f.p("}")
		f.p("")
	}
	return f, nil
}
