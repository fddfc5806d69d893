package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// This file loads a botocore service model (plus its paginators and the
// Smithy paginated traits) and rejects anything the generator does not
// understand: an unknown key is a model feature we would silently ignore.

// model is one botocore service model.
type model struct {
	Metadata   metadata
	Operations map[string]*operation
	Shapes     map[string]*shape

	// Omitted holds the operations of a model generated for a subset of
	// its operations (awsJson services) that are not in the subset: they
	// are parsed and named in the operation table, but their shapes are
	// neither read nor generated.
	Omitted map[string]*operation

	// paginators from <model>.paginators.json, keyed by operation name.
	Paginators map[string]*paginator
	// smithyPaginated holds the smithy.api#paginated trait of each
	// operation (merged with the service default), keyed by operation name.
	SmithyPaginated map[string]*paginator
}

type metadata struct {
	APIVersion  string `json:"apiVersion"`
	ServiceID   string `json:"serviceId"`
	SigningName string `json:"signingName"`
	// EndpointPrefix is the signing name when signingName is absent.
	EndpointPrefix string `json:"endpointPrefix"`
	Protocol       string `json:"protocol"`
	// TargetPrefix and JSONVersion are set by awsJson models (protocol
	// "json"): X-Amz-Target is TargetPrefix.Operation.
	TargetPrefix string `json:"targetPrefix"`
	JSONVersion  string `json:"jsonVersion"`
}

type operation struct {
	Name              string
	Method            string
	RequestURI        string
	ResponseCode      int // 0 when not set
	Input             string
	Output            string
	Errors            []string
	Deprecated        bool
	DeprecatedMessage string
	Documentation     string
}

type shape struct {
	Name     string
	Type     string
	Members  []*member // structure, in model order
	Member   string    // list element shape
	Key      string    // map key shape
	Value    string    // map value shape
	Min, Max *json.Number
	Pattern  *string
	Enum     []string
	Required []string

	Sensitive     bool
	IsError       bool
	IsFault       bool // error shape of a server fault (awsJson: HTTP 500)
	HTTPStatus    int  // error shapes
	Documentation string
}

type member struct {
	Name             string
	Shape            string
	Location         string // "", "uri", "querystring", "statusCode"
	LocationName     string
	IdempotencyToken bool
	Documentation    string
}

// WireName is the name of the member on the wire: the locationName if set,
// else the member name.
func (m *member) WireName() string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return m.Name
}

type paginator struct {
	InputToken  string
	OutputToken string
	LimitKey    string
	ResultKey   string
}

var (
	topLevelKeys  = set("version", "metadata", "operations", "shapes", "documentation")
	operationKeys = set("name", "http", "input", "output", "errors", "documentation",
		"deprecated", "deprecatedMessage", "idempotent")
	httpKeys      = set("method", "requestUri", "responseCode")
	shapeRefKeys  = set("shape")
	errorRefKeys  = set("shape")
	shapeTypes    = set("structure", "string", "list", "map", "integer", "long", "double", "boolean", "timestamp")
	memberKeys    = set("shape", "location", "locationName", "idempotencyToken", "box", "documentation")
	memberLocs    = set("", "uri", "querystring", "statusCode")
	errorInfoKeys = set("httpStatusCode", "senderFault", "code")
	paginatorKeys = set("input_token", "output_token", "limit_key", "result_key")

	// shapeKeys lists the traits each shape type may carry.
	shapeKeys = map[string]map[string]bool{
		"structure": set("type", "members", "required", "sensitive", "error", "exception", "fault", "documentation"),
		"string":    set("type", "min", "max", "pattern", "enum", "sensitive", "documentation"),
		"list":      set("type", "member", "min", "max", "sensitive", "documentation"),
		"map":       set("type", "key", "value", "min", "max", "sensitive", "documentation"),
		"integer":   set("type", "min", "max", "box", "sensitive", "documentation"),
		"long":      set("type", "min", "max", "box", "sensitive", "documentation"),
		"double":    set("type", "min", "max", "box", "sensitive", "documentation"),
		"boolean":   set("type", "box", "sensitive", "documentation"),
		"timestamp": set("type", "sensitive", "documentation"),
	}
)

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// checkKeys fails when obj has a key outside allowed.
func checkKeys(what string, obj map[string]json.RawMessage, allowed map[string]bool) error {
	var unknown []string
	for k := range obj {
		if !allowed[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%s: unknown key(s) %s", what, strings.Join(unknown, ", "))
	}
	return nil
}

// decodeObject decodes a JSON object into its raw members and returns the
// keys in document order.
func decodeObject(raw json.RawMessage) (map[string]json.RawMessage, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("expected a JSON object, got %v", tok)
	}
	obj := map[string]json.RawMessage{}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("expected an object key, got %v", tok)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		if _, dup := obj[k]; dup {
			return nil, nil, fmt.Errorf("duplicate key %q", k)
		}
		obj[k] = v
		keys = append(keys, k)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	return obj, keys, nil
}

func unmarshal(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// loadModel parses a botocore service model, its paginators (may be nil)
// and the Smithy JSON AST of the same service (may be nil). A non-nil
// subset names the operations to generate (awsJson models only): only the
// shapes they reach are read, every other operation goes to Omitted.
func loadModel(serviceJSON, paginatorsJSON, smithyJSON []byte, subset []string) (*model, error) {
	top, _, err := decodeObject(serviceJSON)
	if err != nil {
		return nil, fmt.Errorf("service model: %w", err)
	}
	if err := checkKeys("service model", top, topLevelKeys); err != nil {
		return nil, err
	}
	m := &model{
		Operations:      map[string]*operation{},
		Shapes:          map[string]*shape{},
		Paginators:      map[string]*paginator{},
		SmithyPaginated: map[string]*paginator{},
		Omitted:         map[string]*operation{},
	}
	if err := unmarshal(top["metadata"], &m.Metadata); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	switch m.Metadata.Protocol {
	case "rest-json":
		if subset != nil {
			return nil, fmt.Errorf("metadata: an operation subset is supported for protocol json only")
		}
	case "json":
		if m.Metadata.TargetPrefix == "" || m.Metadata.JSONVersion != "1.1" {
			return nil, fmt.Errorf("metadata: protocol json needs a targetPrefix and jsonVersion 1.1 (got %q, %q)",
				m.Metadata.TargetPrefix, m.Metadata.JSONVersion)
		}
	default:
		return nil, fmt.Errorf("metadata: protocol %q is not supported (want rest-json or json)", m.Metadata.Protocol)
	}
	if m.Metadata.SigningName == "" {
		// As botocore: without signingName, SigV4 signs with the endpoint prefix.
		m.Metadata.SigningName = m.Metadata.EndpointPrefix
	}
	if m.Metadata.SigningName == "" || m.Metadata.APIVersion == "" {
		return nil, fmt.Errorf("metadata: signingName and apiVersion are required")
	}

	shapes, _, err := decodeObject(top["shapes"])
	if err != nil {
		return nil, fmt.Errorf("shapes: %w", err)
	}
	ops, _, err := decodeObject(top["operations"])
	if err != nil {
		return nil, fmt.Errorf("operations: %w", err)
	}
	selected := set(subset...)
	for _, name := range subset {
		if _, ok := ops[name]; !ok {
			return nil, fmt.Errorf("operation subset: the model has no operation %s", name)
		}
	}
	for name, raw := range ops {
		op, err := parseOperation(name, raw)
		if err != nil {
			return nil, err
		}
		if subset != nil && !selected[name] {
			m.Omitted[name] = op
			continue
		}
		m.Operations[name] = op
	}
	if subset == nil {
		for name, raw := range shapes {
			s, err := parseShape(name, raw)
			if err != nil {
				return nil, err
			}
			m.Shapes[name] = s
		}
	} else if err := m.parseReachable(shapes); err != nil {
		return nil, err
	}

	if len(paginatorsJSON) > 0 {
		if err := m.loadPaginators(paginatorsJSON); err != nil {
			return nil, err
		}
	}
	if len(smithyJSON) > 0 {
		if err := m.loadSmithyPaginated(smithyJSON); err != nil {
			return nil, err
		}
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

func parseShape(name string, raw json.RawMessage) (*shape, error) {
	obj, _, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("shape %s: %w", name, err)
	}
	s := &shape{Name: name}
	if err := unmarshal(obj["type"], &s.Type); err != nil {
		return nil, fmt.Errorf("shape %s: type: %w", name, err)
	}
	allowed, ok := shapeKeys[s.Type]
	if !ok {
		return nil, fmt.Errorf("shape %s: unknown shape type %q", name, s.Type)
	}
	if err := checkKeys("shape "+name+" ("+s.Type+")", obj, allowed); err != nil {
		return nil, err
	}
	field := func(key string, v any) error {
		raw, ok := obj[key]
		if !ok {
			return nil
		}
		if err := unmarshal(raw, v); err != nil {
			return fmt.Errorf("shape %s: %s: %w", name, key, err)
		}
		return nil
	}
	ref := func(key string, dst *string) error {
		raw, ok := obj[key]
		if !ok {
			return nil
		}
		r, _, err := decodeObject(raw)
		if err != nil {
			return fmt.Errorf("shape %s: %s: %w", name, key, err)
		}
		// Collection members may carry a locationName (XML protocols only).
		if err := checkKeys("shape "+name+" "+key, r, set("shape", "documentation")); err != nil {
			return err
		}
		return unmarshal(r["shape"], dst)
	}
	var exception bool
	var errInfo map[string]json.RawMessage
	for _, err := range []error{
		field("min", &s.Min),
		field("max", &s.Max),
		field("pattern", &s.Pattern),
		field("enum", &s.Enum),
		field("required", &s.Required),
		field("sensitive", &s.Sensitive),
		field("documentation", &s.Documentation),
		field("exception", &exception),
		field("error", &errInfo),
		ref("member", &s.Member),
		ref("key", &s.Key),
		ref("value", &s.Value),
	} {
		if err != nil {
			return nil, err
		}
	}
	if errInfo != nil {
		if err := checkKeys("shape "+name+" error", errInfo, errorInfoKeys); err != nil {
			return nil, err
		}
		if _, ok := errInfo["code"]; ok {
			return nil, fmt.Errorf("shape %s: error code overrides are not supported", name)
		}
		if raw, ok := errInfo["httpStatusCode"]; ok {
			if err := unmarshal(raw, &s.HTTPStatus); err != nil {
				return nil, fmt.Errorf("shape %s: error.httpStatusCode: %w", name, err)
			}
		}
	}
	s.IsError = exception || errInfo != nil
	if raw, ok := obj["fault"]; ok {
		if err := unmarshal(raw, &s.IsFault); err != nil {
			return nil, fmt.Errorf("shape %s: fault: %w", name, err)
		}
		if !s.IsError {
			return nil, fmt.Errorf("shape %s: fault on a shape that is not an exception", name)
		}
	}
	switch s.Type {
	case "list":
		if s.Member == "" {
			return nil, fmt.Errorf("shape %s: list without member", name)
		}
	case "map":
		if s.Key == "" || s.Value == "" {
			return nil, fmt.Errorf("shape %s: map without key or value", name)
		}
	case "structure":
		raw, ok := obj["members"]
		if !ok {
			return nil, fmt.Errorf("shape %s: structure without members", name)
		}
		members, keys, err := decodeObject(raw)
		if err != nil {
			return nil, fmt.Errorf("shape %s: members: %w", name, err)
		}
		for _, k := range keys {
			mo, _, err := decodeObject(members[k])
			if err != nil {
				return nil, fmt.Errorf("shape %s member %s: %w", name, k, err)
			}
			if err := checkKeys("shape "+name+" member "+k, mo, memberKeys); err != nil {
				return nil, err
			}
			mem := &member{Name: k}
			for key, dst := range map[string]any{
				"shape":            &mem.Shape,
				"location":         &mem.Location,
				"locationName":     &mem.LocationName,
				"idempotencyToken": &mem.IdempotencyToken,
				"documentation":    &mem.Documentation,
			} {
				if raw, ok := mo[key]; ok {
					if err := unmarshal(raw, dst); err != nil {
						return nil, fmt.Errorf("shape %s member %s: %s: %w", name, k, key, err)
					}
				}
			}
			if !memberLocs[mem.Location] {
				return nil, fmt.Errorf("shape %s member %s: unknown location %q", name, k, mem.Location)
			}
			if mem.Shape == "" {
				return nil, fmt.Errorf("shape %s member %s: no shape", name, k)
			}
			s.Members = append(s.Members, mem)
		}
	}
	return s, nil
}

func parseOperation(name string, raw json.RawMessage) (*operation, error) {
	obj, _, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("operation %s: %w", name, err)
	}
	if err := checkKeys("operation "+name, obj, operationKeys); err != nil {
		return nil, err
	}
	op := &operation{Name: name}
	var opName string
	if err := unmarshal(obj["name"], &opName); err != nil || opName != name {
		return nil, fmt.Errorf("operation %s: name %q does not match its key", name, opName)
	}
	httpObj, _, err := decodeObject(obj["http"])
	if err != nil {
		return nil, fmt.Errorf("operation %s: http: %w", name, err)
	}
	if err := checkKeys("operation "+name+" http", httpObj, httpKeys); err != nil {
		return nil, err
	}
	if err := unmarshal(httpObj["method"], &op.Method); err != nil {
		return nil, fmt.Errorf("operation %s: http.method: %w", name, err)
	}
	if err := unmarshal(httpObj["requestUri"], &op.RequestURI); err != nil {
		return nil, fmt.Errorf("operation %s: http.requestUri: %w", name, err)
	}
	if raw, ok := httpObj["responseCode"]; ok {
		if err := unmarshal(raw, &op.ResponseCode); err != nil {
			return nil, fmt.Errorf("operation %s: http.responseCode: %w", name, err)
		}
	}
	refShape := func(key string, allowed map[string]bool) (string, error) {
		raw, ok := obj[key]
		if !ok {
			return "", fmt.Errorf("operation %s: no %s (operations without %s are not supported)", name, key, key)
		}
		r, _, err := decodeObject(raw)
		if err != nil {
			return "", fmt.Errorf("operation %s: %s: %w", name, key, err)
		}
		if err := checkKeys("operation "+name+" "+key, r, allowed); err != nil {
			return "", err
		}
		var s string
		err = unmarshal(r["shape"], &s)
		return s, err
	}
	if op.Input, err = refShape("input", shapeRefKeys); err != nil {
		return nil, err
	}
	if op.Output, err = refShape("output", shapeRefKeys); err != nil {
		return nil, err
	}
	if raw, ok := obj["errors"]; ok {
		var refs []json.RawMessage
		if err := unmarshal(raw, &refs); err != nil {
			return nil, fmt.Errorf("operation %s: errors: %w", name, err)
		}
		for _, r := range refs {
			ro, _, err := decodeObject(r)
			if err != nil {
				return nil, fmt.Errorf("operation %s: errors: %w", name, err)
			}
			if err := checkKeys("operation "+name+" error", ro, errorRefKeys); err != nil {
				return nil, err
			}
			var s string
			if err := unmarshal(ro["shape"], &s); err != nil {
				return nil, fmt.Errorf("operation %s: errors: %w", name, err)
			}
			if !slices.Contains(op.Errors, s) {
				op.Errors = append(op.Errors, s)
			}
		}
	}
	for key, dst := range map[string]any{
		"deprecated":        &op.Deprecated,
		"deprecatedMessage": &op.DeprecatedMessage,
		"documentation":     &op.Documentation,
	} {
		if raw, ok := obj[key]; ok {
			if err := unmarshal(raw, dst); err != nil {
				return nil, fmt.Errorf("operation %s: %s: %w", name, key, err)
			}
		}
	}
	return op, nil
}

// parseReachable parses the shapes the operations reach (inputs, outputs,
// declared errors and everything they contain), leaving the rest of the
// model unread.
func (m *model) parseReachable(raw map[string]json.RawMessage) error {
	var queue []string
	for _, name := range sortedKeys(m.Operations) {
		op := m.Operations[name]
		queue = append(queue, op.Input, op.Output)
		queue = append(queue, op.Errors...)
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := m.Shapes[name]; done {
			continue
		}
		r, ok := raw[name]
		if !ok {
			return fmt.Errorf("unknown shape %q", name)
		}
		s, err := parseShape(name, r)
		if err != nil {
			return err
		}
		m.Shapes[name] = s
		for _, mem := range s.Members {
			queue = append(queue, mem.Shape)
		}
		for _, ref := range []string{s.Member, s.Key, s.Value} {
			if ref != "" {
				queue = append(queue, ref)
			}
		}
	}
	return nil
}

func (m *model) loadPaginators(data []byte) error {
	top, _, err := decodeObject(data)
	if err != nil {
		return fmt.Errorf("paginators: %w", err)
	}
	if err := checkKeys("paginators", top, set("pagination")); err != nil {
		return err
	}
	pages, _, err := decodeObject(top["pagination"])
	if err != nil {
		return fmt.Errorf("paginators: %w", err)
	}
	for name, raw := range pages {
		if _, omitted := m.Omitted[name]; omitted {
			continue // not generated: its paginator is not read
		}
		obj, _, err := decodeObject(raw)
		if err != nil {
			return fmt.Errorf("paginator %s: %w", name, err)
		}
		if err := checkKeys("paginator "+name, obj, paginatorKeys); err != nil {
			return err
		}
		p := &paginator{}
		for key, dst := range map[string]*string{
			"input_token":  &p.InputToken,
			"output_token": &p.OutputToken,
			"limit_key":    &p.LimitKey,
			"result_key":   &p.ResultKey,
		} {
			if raw, ok := obj[key]; ok {
				if err := unmarshal(raw, dst); err != nil {
					return fmt.Errorf("paginator %s: %s must be a single string: %w", name, key, err)
				}
			}
		}
		m.Paginators[name] = p
	}
	return nil
}

// loadSmithyPaginated reads only the smithy.api#paginated traits of the
// Smithy JSON AST: on the service (defaults) and on operations.
func (m *model) loadSmithyPaginated(data []byte) error {
	var ast struct {
		Shapes map[string]struct {
			Type   string                     `json:"type"`
			Traits map[string]json.RawMessage `json:"traits"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(data, &ast); err != nil {
		return fmt.Errorf("smithy model: %w", err)
	}
	type trait struct {
		InputToken  string `json:"inputToken"`
		OutputToken string `json:"outputToken"`
		PageSize    string `json:"pageSize"`
		Items       string `json:"items"`
	}
	var defaults trait
	for _, s := range ast.Shapes {
		if raw, ok := s.Traits["smithy.api#paginated"]; ok && s.Type == "service" {
			if err := json.Unmarshal(raw, &defaults); err != nil {
				return fmt.Errorf("smithy service paginated trait: %w", err)
			}
		}
	}
	for id, s := range ast.Shapes {
		raw, ok := s.Traits["smithy.api#paginated"]
		if !ok || s.Type != "operation" {
			continue
		}
		t := defaults
		if err := json.Unmarshal(raw, &t); err != nil {
			return fmt.Errorf("smithy %s paginated trait: %w", id, err)
		}
		name := id[strings.LastIndex(id, "#")+1:]
		m.SmithyPaginated[name] = &paginator{
			InputToken:  t.InputToken,
			OutputToken: t.OutputToken,
			LimitKey:    t.PageSize,
			ResultKey:   t.Items,
		}
	}
	return nil
}

// check verifies references and the combinations the generator supports.
func (m *model) check() error {
	get := func(ctx, name string) error {
		if _, ok := m.Shapes[name]; !ok {
			return fmt.Errorf("%s: unknown shape %q", ctx, name)
		}
		return nil
	}
	for _, name := range sortedKeys(m.Shapes) {
		s := m.Shapes[name]
		switch s.Type {
		case "list":
			if err := get("shape "+name+" member", s.Member); err != nil {
				return err
			}
		case "map":
			if err := get("shape "+name+" key", s.Key); err != nil {
				return err
			}
			if err := get("shape "+name+" value", s.Value); err != nil {
				return err
			}
			if m.Shapes[s.Key].Type != "string" {
				return fmt.Errorf("shape %s: map key shape %s is not a string", name, s.Key)
			}
		case "structure":
			seen := map[string]bool{}
			for _, mem := range s.Members {
				if err := get("shape "+name+" member "+mem.Name, mem.Shape); err != nil {
					return err
				}
				seen[mem.Name] = true
			}
			for _, r := range s.Required {
				if !seen[r] {
					return fmt.Errorf("shape %s: required member %q does not exist", name, r)
				}
			}
		}
		for _, n := range []*json.Number{s.Min, s.Max} {
			if n == nil {
				continue
			}
			if s.Type == "double" {
				if _, err := strconv.ParseFloat(n.String(), 64); err != nil {
					return fmt.Errorf("shape %s: bad bound %s", name, n)
				}
			} else if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
				return fmt.Errorf("shape %s: bound %s is not an integer", name, n)
			}
		}
	}
	for _, name := range sortedKeys(m.Operations) {
		op := m.Operations[name]
		for _, ref := range []string{op.Input, op.Output} {
			if err := get("operation "+name, ref); err != nil {
				return err
			}
			if m.Shapes[ref].Type != "structure" {
				return fmt.Errorf("operation %s: %s is not a structure", name, ref)
			}
		}
		for _, e := range op.Errors {
			if err := get("operation "+name+" errors", e); err != nil {
				return err
			}
			if !m.Shapes[e].IsError {
				return fmt.Errorf("operation %s: %s is not an error shape", name, e)
			}
		}
		if op.Method == "" || !strings.HasPrefix(op.RequestURI, "/") {
			return fmt.Errorf("operation %s: bad http binding %s %q", name, op.Method, op.RequestURI)
		}
	}
	if m.Metadata.Protocol == "json" {
		// awsJson: every call is POST / with the operation in X-Amz-Target,
		// and every member is in the JSON body.
		for _, ops := range []map[string]*operation{m.Operations, m.Omitted} {
			for _, name := range sortedKeys(ops) {
				if op := ops[name]; op.Method != "POST" || op.RequestURI != "/" || op.ResponseCode != 0 {
					return fmt.Errorf("operation %s: protocol json needs POST / without responseCode, not %s %q", name, op.Method, op.RequestURI)
				}
			}
		}
		for _, name := range sortedKeys(m.Shapes) {
			for _, mem := range m.Shapes[name].Members {
				if mem.Location != "" {
					return fmt.Errorf("shape %s member %s: location %q in a protocol json model", name, mem.Name, mem.Location)
				}
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
