package restjson_test

import (
	"errors"
	"testing"

	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

var allOps = append(append([]*restjson.Operation{}, finspace.Operations...), finspacedata.Operations...)

// FuzzBind feeds arbitrary labels, query strings and bodies to the binder
// and validator of every generated operation: they must never panic, and
// every failure must be a *restjson.ValidationError (a 400, never a 500).
func FuzzBind(f *testing.F) {
	f.Add(uint8(0), "env1", "maxResults=10&nextToken=abc", []byte(`{"name":"x"}`))
	f.Add(uint8(3), "a%2Fb", "tagKeys=a&tagKeys=b", []byte(`{"tags":{"a":"b"}}`))
	f.Add(uint8(7), "", "maxResults=-1", []byte(`{"changeRequests":[{"changeType":"PUT","dbPath":"/"}]}`))
	f.Add(uint8(20), "x", "durationInMinutes=99999999999999999999", []byte(`{"capacityConfiguration":{"nodeCount":"3"}}`))
	f.Add(uint8(40), "x", "", []byte(`{"databases":[{"cacheConfigurations":[{"dbPaths":[1]}]}]}`))
	f.Add(uint8(60), "x", "autoUpdate=maybe", []byte(`null`))
	f.Add(uint8(1), "x", "nextToken=a&nextToken=b&maxResults=%zz", []byte(nil))
	f.Add(uint8(70), "x", "", []byte(`{"formatParams":{"a":null},"schemaDefinition":{"tabularSchemaConfig":{"columns":[{}]}}}`))
	f.Fuzz(func(t *testing.T, opIndex uint8, label, rawQuery string, body []byte) {
		op := allOps[int(opIndex)%len(allOps)]
		q, err := restjson.ParseQuery(rawQuery)
		if err != nil {
			var ve *restjson.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ParseQuery(%q): error %T %v is not a validation error", rawQuery, err, err)
			}
			return
		}
		labels := map[string]string{}
		for _, name := range []string{"environmentId", "databaseName", "clusterName", "changesetId", "resourceArn",
			"userName", "nodeId", "dataviewName", "scalingGroupName", "volumeName", "datasetId", "dataviewId",
			"permissionGroupId", "userId"} {
			labels[name] = label
		}
		in, err := restjson.Bind(op, restjson.Params{Path: labels, Query: q}, body)
		if err == nil {
			err = in.Validate()
		}
		if err != nil {
			var ve *restjson.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) == 0 || ve.Error() == "" {
				t.Fatalf("%s: error %T %v is not a validation error", op.Name, err, err)
			}
		}
	})
}
