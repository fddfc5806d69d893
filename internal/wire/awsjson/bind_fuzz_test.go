package awsjson_test

import (
	"errors"
	"testing"

	"github.com/openfinspace/openfinspace/internal/wire/awsjson"
	"github.com/openfinspace/openfinspace/internal/wire/glue"
)

// FuzzBind: any body binds or fails with a SerializationException, never
// a panic; a bound input validates without panicking.
func FuzzBind(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"DatabaseName":"d","TableName":"t","Expression":"a = 'b'"}`,
		`{"Segment":{"SegmentNumber":1,"TotalSegments":2},"QueryAsOfTime":1.5}`, `{"AuditContext":{"RequestedColumns":["a",null]}}`,
		`{"DatabaseName":null}`, `[`, `{"a":`, `{"MaxResults":1e400}`} {
		f.Add([]byte(seed))
	}
	op := glue.OperationByTarget("AWSGlue.GetPartitions")
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := awsjson.Bind(op, body)
		if err != nil {
			var ae *awsjson.APIError
			if !errors.As(err, &ae) || ae.Code != "SerializationException" || ae.Status != 400 {
				t.Fatalf("Bind(%q) = %v", body, err)
			}
			return
		}
		_ = in.Validate()
	})
}
