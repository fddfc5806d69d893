package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	wshape "github.com/openfinspace/openfinspace/internal/wire/shape"
)

const (
	modulePath = "github.com/openfinspace/openfinspace"
	shapePkg   = modulePath + "/internal/wire/shape"
)

// serviceSpec says where one service model goes.
type serviceSpec struct {
	Model      string // model file prefix in the models directory
	Package    string // Go package name
	Dir        string // package directory, relative to Config.WireDir
	TestClient bool   // also generate the typed test client
	// Operations, when set, is the subset of the model's operations whose
	// shapes are generated (awsJson models only); the operation table still
	// names every operation of the model.
	Operations []string
	// Echoes are the conversions generated between shapes that share
	// members (echo.go); a service with none gets no echo_gen.go.
	Echoes []echo
}

var services = []serviceSpec{
	{Model: "finspace-2021-03-12", Package: "finspace", Dir: "finspace", Echoes: finspaceEchoes},
	{Model: "finspace-data-2020-07-13", Package: "finspacedata", Dir: "finspacedata", TestClient: true, Echoes: finspaceDataEchoes},
	// The read side of the Glue Data Catalog (internal/glue); its ~265
	// other operations are only named.
	{Model: "glue-2017-03-31", Package: "glue", Dir: "glue",
		Operations: []string{"GetDatabase", "GetDatabases", "GetPartition", "GetPartitions", "GetTable", "GetTables"}},
}

// Config locates the inputs and outputs of one generator run.
type Config struct {
	ModelsDir     string // api/models
	WireDir       string // internal/wire: gets one sub-directory per service
	TestClientDir string // internal/testclient/finspacedata ("" to skip)
}

// File is one generated file.
type File struct {
	Path string // Config.WireDir or Config.TestClientDir joined with the file's relative path
	Data []byte
}

// Generate reads every service model and returns the generated files,
// sorted by path. It writes nothing.
func Generate(cfg Config) ([]File, error) {
	var files []File
	for _, spec := range services {
		read := func(suffix string, optional bool) ([]byte, error) {
			b, err := os.ReadFile(filepath.Join(cfg.ModelsDir, spec.Model+suffix))
			if err != nil && optional && os.IsNotExist(err) {
				return nil, nil
			}
			return b, err
		}
		svc, err := read(".service.json", false)
		if err != nil {
			return nil, err
		}
		pag, err := read(".paginators.json", true)
		if err != nil {
			return nil, err
		}
		smithy, err := read(".smithy.json", true)
		if err != nil {
			return nil, err
		}
		m, err := loadModel(svc, pag, smithy, spec.Operations)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Model, err)
		}
		out, err := generateService(spec, m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Model, err)
		}
		for _, f := range out.wire {
			files = append(files, File{Path: filepath.Join(cfg.WireDir, spec.Dir, f.name), Data: f.data})
		}
		if spec.TestClient && cfg.TestClientDir != "" {
			for _, f := range out.client {
				files = append(files, File{Path: filepath.Join(cfg.TestClientDir, f.name), Data: f.data})
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// WriteFiles writes generated files, creating directories as needed, and
// leaves files whose content is unchanged untouched.
func WriteFiles(files []File) error {
	for _, f := range files {
		if old, err := os.ReadFile(f.Path); err == nil && string(old) == string(f.Data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f.Path, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

type namedData struct {
	name string
	data []byte
}

type serviceOutput struct {
	wire   []namedData
	client []namedData
}

// gen holds the state of generating one service.
type gen struct {
	spec   serviceSpec
	m      *model
	source string

	typeNames map[string]string // shape name -> Go type name (structures and enums)
	idents    map[string]string // package-level Go identifier -> what declared it
	inputs    map[string]*operation
	outputs   map[string]*operation
	patterns  map[string]string // pattern -> matcher variable
	enumVars  map[string]string // enum shape -> allowed-values variable
	needs     map[string]bool   // shape -> has constraints (memo)
	reachable map[string]bool   // shapes reachable from an operation input

	usedPatterns map[string]bool // patterns referenced by validate code
	usedEnums    map[string]bool // enum shapes referenced by validate code

	patternShapes map[string][]string // pattern -> shapes that use it, sorted
	opNames       []string            // generated operations, sorted
	allOpNames    []string            // every operation of the model, sorted
}

// json reports whether the model is awsJson (protocol "json").
func (g *gen) json() bool { return g.m.Metadata.Protocol == "json" }

// generateService generates the files of one service model.
func generateService(spec serviceSpec, m *model) (*serviceOutput, error) {
	g := &gen{
		spec:          spec,
		m:             m,
		source:        "api/models/" + spec.Model + ".service.json",
		typeNames:     map[string]string{},
		idents:        map[string]string{},
		inputs:        map[string]*operation{},
		outputs:       map[string]*operation{},
		patterns:      map[string]string{},
		enumVars:      map[string]string{},
		needs:         map[string]bool{},
		reachable:     map[string]bool{},
		usedPatterns:  map[string]bool{},
		usedEnums:     map[string]bool{},
		patternShapes: map[string][]string{},
		opNames:       sortedKeys(m.Operations),
	}
	g.allOpNames = append(sortedKeys(m.Operations), sortedKeys(m.Omitted)...)
	sort.Strings(g.allOpNames)
	if err := g.prepare(); err != nil {
		return nil, err
	}
	out := &serviceOutput{}
	files := []func() (*goFile, error){g.typesFile, g.validateFile, g.operationsFile}
	if len(spec.Echoes) > 0 {
		files = append(files, g.echoFile)
	}
	for _, fn := range files {
		f, err := fn()
		if err != nil {
			return nil, err
		}
		data, err := f.bytes()
		if err != nil {
			return nil, err
		}
		out.wire = append(out.wire, namedData{f.name, data})
	}
	if spec.TestClient {
		f, err := g.clientFile()
		if err != nil {
			return nil, err
		}
		data, err := f.bytes()
		if err != nil {
			return nil, err
		}
		out.client = append(out.client, namedData{f.name, data})
	}
	return out, nil
}

func (g *gen) declare(ident, what string) error {
	if prev, ok := g.idents[ident]; ok {
		return fmt.Errorf("Go name collision: %s and %s both map to %s", prev, what, ident)
	}
	g.idents[ident] = what
	return nil
}

// prepare names every declaration, checks the model features the
// generator relies on and indexes inputs, outputs and patterns.
func (g *gen) prepare() error {
	idents := []string{"SigningName", "APIVersion", "ServiceID", "Operations",
		"OperationByName", "Handlers", "ErrorHTTPStatus"}
	if g.json() {
		idents = append(idents, "TargetPrefix", "OperationByTarget", "operationsByTarget")
	}
	for _, id := range idents {
		if err := g.declare(id, "the generated "+id); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if s.Type != "structure" && !(s.Type == "string" && len(s.Enum) > 0) {
			continue
		}
		goName := exportName(name)
		if err := checkIdent(goName, "shape "+name); err != nil {
			return err
		}
		if err := g.declare(goName, "shape "+name); err != nil {
			return err
		}
		g.typeNames[name] = goName
	}
	// Enum constants, after all type names so a constant can not shadow a type.
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if s.Type != "string" || len(s.Enum) == 0 {
			continue
		}
		for _, v := range s.Enum {
			c := g.typeNames[name] + enumValueName(v)
			if err := g.declare(c, fmt.Sprintf("enum value %q of shape %s", v, name)); err != nil {
				return err
			}
		}
		g.enumVars[name] = "enum" + g.typeNames[name]
	}
	for _, name := range g.opNames {
		op := g.m.Operations[name]
		if prev, ok := g.inputs[op.Input]; ok {
			return fmt.Errorf("operations %s and %s share input shape %s", prev.Name, name, op.Input)
		}
		g.inputs[op.Input] = op
		g.outputs[op.Output] = op
		g.markReachable(op.Input)
	}
	// Structure checks: field names, locations, idempotency tokens.
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if s.Type != "structure" {
			continue
		}
		fields := map[string]string{}
		methods := set("Validate", "BindParams", "IdempotencyToken", "SetIdempotencyToken", "HTTPStatusCode")
		tokens := 0
		for _, mem := range s.Members {
			f := exportName(mem.Name)
			if err := checkIdent(f, "shape "+name+" member "+mem.Name); err != nil {
				return err
			}
			if prev, ok := fields[f]; ok {
				return fmt.Errorf("shape %s: members %s and %s both map to field %s", name, prev, mem.Name, f)
			}
			if methods[f] {
				return fmt.Errorf("shape %s: member %s collides with generated method %s", name, mem.Name, f)
			}
			fields[f] = mem.Name
			target := g.m.Shapes[mem.Shape]
			_, isInput := g.inputs[name]
			_, isOutput := g.outputs[name]
			switch mem.Location {
			case "uri", "querystring":
				if !isInput {
					return fmt.Errorf("shape %s member %s: location %s outside an operation input", name, mem.Name, mem.Location)
				}
				if err := g.checkParamType(name, mem); err != nil {
					return err
				}
			case "statusCode":
				if !isOutput || target.Type != "integer" {
					return fmt.Errorf("shape %s member %s: statusCode location needs an integer member of an operation output", name, mem.Name)
				}
			}
			if mem.IdempotencyToken {
				tokens++
				if target.Type != "string" || !isInput {
					return fmt.Errorf("shape %s member %s: idempotency token must be a string member of an operation input", name, mem.Name)
				}
			}
		}
		if tokens > 1 {
			return fmt.Errorf("shape %s: more than one idempotency token", name)
		}
	}
	// URI templates and labels.
	for _, name := range g.opNames {
		if err := g.checkURI(g.m.Operations[name]); err != nil {
			return err
		}
	}
	// Patterns of every string shape: compile with RE2 or have a manual matcher.
	varFor := map[string]string{}
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[name]
		if s.Pattern == nil {
			continue
		}
		if err := checkPattern(*s.Pattern); err != nil {
			return fmt.Errorf("shape %s: %w", name, err)
		}
		g.patternShapes[*s.Pattern] = append(g.patternShapes[*s.Pattern], name)
		if _, ok := varFor[*s.Pattern]; !ok {
			v := "pat" + exportName(name)
			if err := g.declare(v, "pattern of shape "+name); err != nil {
				return err
			}
			varFor[*s.Pattern] = v
		}
	}
	g.patterns = varFor
	for _, v := range g.enumVars {
		if err := g.declare(v, "enum values "+v); err != nil {
			return err
		}
	}
	return nil
}

// checkPattern fails when pattern is neither RE2 nor hand-matched in shape.
func checkPattern(pattern string) error {
	if wshape.HasManualPattern(pattern) {
		return nil
	}
	re2, err := wshape.RE2Pattern(pattern)
	if err != nil {
		return err
	}
	if _, err := regexp.Compile(re2); err != nil {
		return fmt.Errorf("pattern %q neither compiles with Go's regexp (%v) nor has a manual matcher (add one to shape/patterns.go)", pattern, err)
	}
	return nil
}

func (g *gen) checkParamType(owner string, mem *member) error {
	t := g.m.Shapes[mem.Shape]
	ok := false
	switch mem.Location {
	case "uri":
		ok = t.Type == "string"
	case "querystring":
		switch t.Type {
		case "string", "integer", "long", "boolean":
			ok = true
		case "list":
			ok = g.m.Shapes[t.Member].Type == "string"
		}
	}
	if !ok {
		return fmt.Errorf("shape %s member %s: %s location with shape type %s is not supported", owner, mem.Name, mem.Location, t.Type)
	}
	return nil
}

var uriLabel = regexp.MustCompile(`\{([^}]*)\}`)

func (g *gen) checkURI(op *operation) error {
	in := g.m.Shapes[op.Input]
	labels := map[string]bool{}
	for _, match := range uriLabel.FindAllStringSubmatch(op.RequestURI, -1) {
		l := match[1]
		if strings.HasSuffix(l, "+") {
			return fmt.Errorf("operation %s: greedy label {%s} is not supported", op.Name, l)
		}
		if labels[l] {
			return fmt.Errorf("operation %s: label {%s} appears twice", op.Name, l)
		}
		labels[l] = true
	}
	if strings.Contains(op.RequestURI, "?") {
		return fmt.Errorf("operation %s: query literals in the request URI are not supported", op.Name)
	}
	for _, mem := range in.Members {
		if mem.Location != "uri" {
			continue
		}
		if !labels[mem.WireName()] {
			return fmt.Errorf("operation %s: member %s is bound to label {%s}, which %s does not have", op.Name, mem.Name, mem.WireName(), op.RequestURI)
		}
		delete(labels, mem.WireName())
	}
	for l := range labels {
		return fmt.Errorf("operation %s: label {%s} has no input member", op.Name, l)
	}
	return nil
}

func (g *gen) markReachable(name string) {
	if g.reachable[name] {
		return
	}
	g.reachable[name] = true
	s := g.m.Shapes[name]
	switch s.Type {
	case "structure":
		for _, mem := range s.Members {
			g.markReachable(mem.Shape)
		}
	case "list":
		g.markReachable(s.Member)
	case "map":
		g.markReachable(s.Key)
		g.markReachable(s.Value)
	}
}

// needsCheck reports whether a value of the shape has any constraint to
// check, nested members included.
func (g *gen) needsCheck(name string) bool {
	if v, ok := g.needs[name]; ok {
		return v
	}
	g.needs[name] = true // recursion guard: assume yes while computing
	s := g.m.Shapes[name]
	v := false
	switch s.Type {
	case "string":
		v = g.hasLen(s) || s.Pattern != nil || len(s.Enum) > 0
	case "integer", "long", "double":
		v = s.Min != nil || s.Max != nil
	case "list":
		v = g.hasLen(s) || g.needsCheck(s.Member)
	case "map":
		v = g.hasLen(s) || g.needsCheck(s.Key) || g.needsCheck(s.Value)
	case "structure":
		v = len(s.Required) > 0
		for _, mem := range s.Members {
			if g.needsCheck(mem.Shape) {
				v = true
			}
		}
	}
	g.needs[name] = v
	return v
}

func (g *gen) hasLen(s *shape) bool {
	return (s.Min != nil && s.Min.String() != "0") || s.Max != nil
}
