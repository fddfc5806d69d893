package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/dataset"
	"github.com/openfinspace/openfinspace/internal/store"
)

// changesetSucceeded is the method of a pseudo-request that each walk's
// send answers by writing changeset path ("<dataset>/<changeset>") SUCCESS
// in the store (the walks' sources are not real files; a SUCCESS status
// is final, so an ingestion attempt still under way leaves it so).
const changesetSucceeded = "CHANGESETSUCCEEDED"

func markChangesetSucceeded(t *testing.T, db store.Store, path string) {
	t.Helper()
	_, id, _ := strings.Cut(path, "/")
	ctx := context.Background()
	err := db.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, dataset.ChangesetKind, id)
		if err != nil {
			return err
		}
		var d map[string]any
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return err
		}
		d["status"] = "SUCCESS"
		rec.Data, _ = json.Marshal(d)
		return tx.Update(ctx, rec)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The dataset and changeset operations' idempotency cases (added to
// idempotentCases, which both walks use).
func init() {
	idempotentCases["CreateDataset"] = func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		g := idemGroup(t, send, "idem-dataset-group")
		return idemDatasetRequest(g, "idem dataset"), idemDatasetRequest(g, "idem dataset 2")
	}
	idempotentCases["UpdateDataset"] = func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		d := idemDataset(t, send, "idem-update-dataset")
		r := idemDatasetRequest("", "renamed")
		o := idemDatasetRequest("", "renamed again")
		delete(r.body, "permissionGroupParams")
		delete(o.body, "permissionGroupParams")
		r.method, r.path, o.method, o.path = "PUT", "/datasetsv2/"+d, "PUT", "/datasetsv2/"+d
		return r, o
	}
	idempotentCases["DeleteDataset"] = func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		d, e := idemDataset(t, send, "idem-delete-dataset"), idemDataset(t, send, "idem-delete-dataset-2")
		return idemRequest{"DELETE", "/datasetsv2/" + d, nil}, idemRequest{"DELETE", "/datasetsv2/" + e, nil}
	}
	idempotentCases["CreateChangeset"] = func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		d := idemDataset(t, send, "idem-changeset")
		return idemChangesetRequest("POST", "/datasets/"+d+"/changesetsv2", "a.csv"),
			idemChangesetRequest("POST", "/datasets/"+d+"/changesetsv2", "b.csv")
	}
	idempotentCases["UpdateChangeset"] = func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		d := idemDataset(t, send, "idem-update-changeset")
		// Only a SUCCESS changeset can be corrected; both requests target
		// the same one.
		c, _ := mustSend(t, send, idemChangesetRequest("POST", "/datasets/"+d+"/changesetsv2", "a.csv")).body["changesetId"].(string)
		send(t, idemRequest{method: changesetSucceeded, path: d + "/" + c}, "")
		r := idemChangesetRequest("PUT", "/datasets/"+d+"/changesetsv2/"+c, "a2.csv")
		o := idemChangesetRequest("PUT", "/datasets/"+d+"/changesetsv2/"+c, "a3.csv")
		delete(r.body, "changeType")
		delete(o.body, "changeType")
		return r, o
	}
}

func idemDatasetRequest(group, title string) idemRequest {
	return idemRequest{"POST", "/datasetsv2", map[string]any{"datasetTitle": title, "kind": "TABULAR",
		"permissionGroupParams": map[string]any{"permissionGroupId": group},
		"schemaDefinition": map[string]any{"tabularSchemaConfig": map[string]any{
			"columns": []map[string]any{{"columnName": "sym", "dataType": "STRING"}}}}}}
}

func idemDataset(t *testing.T, send sendFunc, name string) string {
	t.Helper()
	g := idemGroup(t, send, name)
	id, _ := mustSend(t, send, idemDatasetRequest(g, name)).body["datasetId"].(string)
	return id
}

func idemChangesetRequest(method, path, file string) idemRequest {
	return idemRequest{method, path, map[string]any{"changeType": "APPEND",
		"sourceParams": map[string]any{"s3SourcePath": "s3://idem-bucket/" + file, "sourceType": "S3"},
		"formatParams": map[string]any{"formatType": "CSV"}}}
}
