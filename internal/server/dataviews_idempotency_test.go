package server_test

import "testing"

// CreateDataView's idempotency case (added to idempotentCases, which both
// walks use).
func init() {
	idempotentCases["CreateDataView"] = func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		d := idemDataset(t, send, "idem-dataview")
		return idemRequest{"POST", "/datasets/" + d + "/dataviewsv2", map[string]any{"destinationTypeParams": map[string]any{"destinationType": "S3"}}},
			idemRequest{"POST", "/datasets/" + d + "/dataviewsv2", map[string]any{"destinationTypeParams": map[string]any{"destinationType": "S3"},
				"sortColumns": []string{"sym"}}}
	}
}
