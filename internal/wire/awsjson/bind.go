package awsjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/openfinspace/openfinspace/internal/wire/shape"
)

// Bind decodes body, the JSON object of an awsJson request, into a new
// input of op, strictly: the body is one JSON object (an empty body is
// {}), member names match the model's exactly (Go's encoding/json would
// match them case-insensitively), no member is unknown or repeated, no
// data follows the object, and every value has its member's JSON type.
// Failures are SerializationException errors naming the member; the
// model's constraints are Validate's business.
func Bind(op *shape.Operation, body []byte) (shape.Input, error) {
	in := op.NewInput()
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return in, nil
	}
	if body[0] != '{' {
		return nil, serialization("The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := checkValue(dec, reflect.TypeOf(in), ""); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, serialization("The request body has data after its JSON object.")
	}
	if err := json.Unmarshal(body, in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, serialization(fmt.Sprintf("The member %s must be %s, not a JSON %s.", memberName(te.Field), jsonType(te.Type), te.Value))
		}
		return nil, serialization("The request body could not be decoded: " + syntaxDetail(err))
	}
	return in, nil
}

func serialization(msg string) error {
	return &APIError{Status: 400, Code: "SerializationException", Message: msg}
}

func memberName(path string) string {
	if path == "" {
		return "(body)"
	}
	return "'" + path + "'"
}

func syntaxDetail(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "invalid JSON at offset " + strconv.FormatInt(se.Offset, 10) + "."
	}
	return "invalid JSON."
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// checkValue reads the next JSON value from dec and checks the member
// names of every object that t (or its elements) decodes into a struct.
// Scalars are left to json.Unmarshal.
func checkValue(dec *json.Decoder, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		if reflect.PointerTo(t.Elem()).Implements(unmarshaler) && t.Elem().Kind() == reflect.Struct {
			break // a scalar with its own decoding (shape.Timestamp)
		}
		t = t.Elem()
	}
	var kind string
	switch {
	case t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(unmarshaler):
		kind = "structure"
	case t.Kind() == reflect.Slice:
		kind = "list"
	case t.Kind() == reflect.Map:
		kind = "map"
	default:
		var skip json.RawMessage
		return decodeErr(dec.Decode(&skip))
	}
	tok, err := dec.Token()
	if err != nil {
		return decodeErr(err)
	}
	if tok == nil {
		return nil // null: the member is absent
	}
	want := json.Delim('{')
	if kind == "list" {
		want = '['
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return serialization(fmt.Sprintf("The member %s must be a JSON %s.", memberName(path), map[string]string{"structure": "object", "map": "object", "list": "array"}[kind]))
	}
	switch kind {
	case "list":
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case "map":
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return decodeErr(err)
			}
			if err := checkValue(dec, t.Elem(), join(path, fmt.Sprint(k))); err != nil {
				return err
			}
		}
	case "structure":
		fields := structFields(t)
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return decodeErr(err)
			}
			name, _ := k.(string)
			f, ok := fields[name]
			if !ok {
				return serialization(fmt.Sprintf("The request has an unknown member %s.", memberName(join(path, name))))
			}
			if seen[name] {
				return serialization(fmt.Sprintf("The member %s appears twice.", memberName(join(path, name))))
			}
			seen[name] = true
			if err := checkValue(dec, f, join(path, name)); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return decodeErr(err)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func decodeErr(err error) error {
	if err == nil {
		return nil
	}
	return serialization("The request body could not be decoded: " + syntaxDetail(err))
}

// structFields maps the JSON member names of struct type t (its json
// tags; "-" and untagged fields excluded) to their types. Inputs are
// small, so it is computed per object rather than cached in a package
// variable.
func structFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = f.Type
	}
	return m
}

func jsonType(t reflect.Type) string {
	if t == nil {
		return "of the model's type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice:
		return "a list"
	case reflect.Map:
		return "a map"
	case reflect.Struct:
		if reflect.PointerTo(t).Implements(unmarshaler) {
			return "a timestamp (epoch seconds)"
		}
		return "a structure"
	}
	return "of type " + t.String()
}
