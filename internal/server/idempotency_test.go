package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	apifinspace "github.com/openfinspace/openfinspace/internal/api/finspace"
	apifinspacedata "github.com/openfinspace/openfinspace/internal/api/finspacedata"
	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/clienttoken"
	"github.com/openfinspace/openfinspace/internal/dataset"
	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/idempotency"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/keyring"
	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/kx/dataviews"
	"github.com/openfinspace/openfinspace/internal/kx/scaling"
	"github.com/openfinspace/openfinspace/internal/kx/users"
	"github.com/openfinspace/openfinspace/internal/kx/volumes"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/resource"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
	wfinspace "github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

// idemRequest is one request of an idempotent operation, without its
// client token (send adds it: in the query for DELETE, as the models put
// it, in the body otherwise).
type idemRequest struct {
	method, path string
	body         map[string]any
}

// sendFunc sends r with client token token ("" for none).
type sendFunc func(t *testing.T, r idemRequest, token string) wireResponse

// idemCase prepares one idempotent operation, with requests that carry no
// client token, and returns a request of it and another request of it with
// other parameters.
type idemCase func(t *testing.T, send sendFunc) (req, other idemRequest)

// idemCluster is a CreateKxCluster body (no database, no code).
func idemCluster(name string) map[string]any {
	return map[string]any{"clusterName": name, "clusterType": "HDB", "releaseLabel": "1.0", "azMode": "MULTI",
		"vpcConfiguration":      map[string]any{"vpcId": "vpc-0abc1234", "securityGroupIds": []string{"sg-0abc1234"}, "subnetIds": []string{"subnet-0abc1234"}, "ipAddressType": "IP_V4"},
		"capacityConfiguration": map[string]any{"nodeType": "kx.s.large", "nodeCount": 1}}
}

// idempotentCases has a case for every implemented operation whose model
// has a clientToken member; both walks below fail for one without.
var idempotentCases = map[string]idemCase{
	"CreateUser": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		return idemRequest{"POST", "/user", map[string]any{"emailAddress": "idem-new@example.com", "type": "APP_USER"}},
			idemRequest{"POST", "/user", map[string]any{"emailAddress": "idem-other@example.com", "type": "APP_USER"}}
	},
	"UpdateUser": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		u := idemUser(t, send, "idem-update")
		return idemRequest{"PUT", "/user/" + u, map[string]any{"firstName": "Ada"}},
			idemRequest{"PUT", "/user/" + u, map[string]any{"firstName": "Grace"}}
	},
	"DisableUser": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		u, v := idemUser(t, send, "idem-disable"), idemUser(t, send, "idem-disable-2")
		return idemRequest{"POST", "/user/" + u + "/disable", nil}, idemRequest{"POST", "/user/" + v + "/disable", nil}
	},
	"EnableUser": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		u, v := idemUser(t, send, "idem-enable"), idemUser(t, send, "idem-enable-2")
		mustSend(t, send, idemRequest{"POST", "/user/" + u + "/disable", nil})
		return idemRequest{"POST", "/user/" + u + "/enable", nil}, idemRequest{"POST", "/user/" + v + "/enable", nil}
	},
	"ResetUserPassword": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		u, v := idemUser(t, send, "idem-reset"), idemUser(t, send, "idem-reset-2")
		return idemRequest{"POST", "/user/" + u + "/password", nil}, idemRequest{"POST", "/user/" + v + "/password", nil}
	},
	"CreatePermissionGroup": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		return idemRequest{"POST", "/permission-group", map[string]any{"name": "idem-group", "applicationPermissions": []string{"ViewAuditData"}}},
			idemRequest{"POST", "/permission-group", map[string]any{"name": "idem-group-2", "applicationPermissions": []string{"ViewAuditData"}}}
	},
	"UpdatePermissionGroup": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		g := idemGroup(t, send, "idem-update-group")
		return idemRequest{"PUT", "/permission-group/" + g, map[string]any{"name": "renamed"}},
			idemRequest{"PUT", "/permission-group/" + g, map[string]any{"name": "renamed-again"}}
	},
	"DeletePermissionGroup": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		g, h := idemGroup(t, send, "idem-delete-group"), idemGroup(t, send, "idem-delete-group-2")
		return idemRequest{"DELETE", "/permission-group/" + g, nil}, idemRequest{"DELETE", "/permission-group/" + h, nil}
	},
	"AssociateUserToPermissionGroup": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		g, u, v := idemGroup(t, send, "idem-associate"), idemUser(t, send, "idem-associate"), idemUser(t, send, "idem-associate-2")
		return idemRequest{"POST", "/permission-group/" + g + "/users/" + u, nil}, idemRequest{"POST", "/permission-group/" + g + "/users/" + v, nil}
	},
	"DisassociateUserFromPermissionGroup": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		g, u, v := idemGroup(t, send, "idem-disassociate"), idemUser(t, send, "idem-disassociate"), idemUser(t, send, "idem-disassociate-2")
		mustSend(t, send, idemRequest{"POST", "/permission-group/" + g + "/users/" + u, nil})
		mustSend(t, send, idemRequest{"POST", "/permission-group/" + g + "/users/" + v, nil})
		return idemRequest{"DELETE", "/permission-group/" + g + "/users/" + u, nil}, idemRequest{"DELETE", "/permission-group/" + g + "/users/" + v, nil}
	},
	"CreateKxEnvironment": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		return idemRequest{"POST", "/kx/environments", map[string]any{"name": "idem-kx", "kmsKeyId": "arn:aws:kms:us-east-1:000000000000:key/k"}},
			idemRequest{"POST", "/kx/environments", map[string]any{"name": "idem-kx-2", "kmsKeyId": "arn:aws:kms:us-east-1:000000000000:key/k"}}
	},
	"UpdateKxEnvironment": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxEnv(t, send, "idem-kx-update")
		return idemRequest{"PUT", "/kx/environments/" + e, map[string]any{"name": "renamed"}},
			idemRequest{"PUT", "/kx/environments/" + e, map[string]any{"name": "renamed-again"}}
	},
	"UpdateKxEnvironmentNetwork": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxEnv(t, send, "idem-kx-network")
		send(t, idemRequest{method: kxReady, path: e}, "")
		return idemRequest{"PUT", "/kx/environments/" + e + "/network", map[string]any{"customDNSConfiguration": []map[string]any{{"customDNSServerName": "a.example.com", "customDNSServerIP": "10.0.0.1"}}}},
			idemRequest{"PUT", "/kx/environments/" + e + "/network", map[string]any{"customDNSConfiguration": []map[string]any{{"customDNSServerName": "b.example.com", "customDNSServerIP": "10.0.0.2"}}}}
	},
	"DeleteKxEnvironment": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e, f := idemKxEnv(t, send, "idem-kx-delete"), idemKxEnv(t, send, "idem-kx-delete-2")
		return idemRequest{"DELETE", "/kx/environments/" + e, nil}, idemRequest{"DELETE", "/kx/environments/" + f, nil}
	},
	"CreateKxDatabase": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxReady(t, send, "idem-kx-db")
		return idemRequest{"POST", "/kx/environments/" + e + "/databases", map[string]any{"databaseName": "db_one"}},
			idemRequest{"POST", "/kx/environments/" + e + "/databases", map[string]any{"databaseName": "db_two"}}
	},
	"UpdateKxDatabase": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxDatabase(t, send, "idem-kx-db-update")
		return idemRequest{"PUT", "/kx/environments/" + e + "/databases/db_one", map[string]any{"description": "a"}},
			idemRequest{"PUT", "/kx/environments/" + e + "/databases/db_one", map[string]any{"description": "b"}}
	},
	"DeleteKxDatabase": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxDatabase(t, send, "idem-kx-db-delete")
		mustSend(t, send, idemRequest{"POST", "/kx/environments/" + e + "/databases", map[string]any{"databaseName": "db_two", "clientToken": "setup-two-" + e}})
		return idemRequest{"DELETE", "/kx/environments/" + e + "/databases/db_one", nil}, idemRequest{"DELETE", "/kx/environments/" + e + "/databases/db_two", nil}
	},
	"CreateKxCluster": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxReady(t, send, "idem-kx-cluster")
		return idemRequest{"POST", "/kx/environments/" + e + "/clusters", idemCluster("cl-one")},
			idemRequest{"POST", "/kx/environments/" + e + "/clusters", idemCluster("cl-two")}
	},
	"DeleteKxCluster": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxReady(t, send, "idem-kx-cluster-delete")
		for _, n := range []string{"cl-one", "cl-two"} {
			body := idemCluster(n)
			body["clientToken"] = "setup-" + n + "-" + e
			mustSend(t, send, idemRequest{"POST", "/kx/environments/" + e + "/clusters", body})
		}
		return idemRequest{"DELETE", "/kx/environments/" + e + "/clusters/cl-one", nil}, idemRequest{"DELETE", "/kx/environments/" + e + "/clusters/cl-two", nil}
	},
	"CreateKxChangeset": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxDatabase(t, send, "idem-kx-changeset")
		cs := func(p string) map[string]any {
			return map[string]any{"changeRequests": []map[string]any{{"changeType": "PUT", "s3Path": "s3://idem-bucket/" + p, "dbPath": "/"}}}
		}
		return idemRequest{"POST", "/kx/environments/" + e + "/databases/db_one/changesets", cs("a/")},
			idemRequest{"POST", "/kx/environments/" + e + "/databases/db_one/changesets", cs("b/")}
	},
	"CreateKxUser": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxEnv(t, send, "idem-kx-user")
		return idemRequest{"POST", "/kx/environments/" + e + "/users", map[string]any{"userName": "alice", "iamRole": "arn:aws:iam::000000000000:role/a"}},
			idemRequest{"POST", "/kx/environments/" + e + "/users", map[string]any{"userName": "bob", "iamRole": "arn:aws:iam::000000000000:role/a"}}
	},
	"UpdateKxUser": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxEnv(t, send, "idem-kx-user-update")
		mustSend(t, send, idemRequest{"POST", "/kx/environments/" + e + "/users", map[string]any{"userName": "alice", "iamRole": "arn:aws:iam::000000000000:role/a"}})
		return idemRequest{"PUT", "/kx/environments/" + e + "/users/alice", map[string]any{"iamRole": "arn:aws:iam::000000000000:role/b"}},
			idemRequest{"PUT", "/kx/environments/" + e + "/users/alice", map[string]any{"iamRole": "arn:aws:iam::000000000000:role/c"}}
	},
	"CreateKxScalingGroup": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxEnv(t, send, "idem-kx-sg")
		sg := func(n string) map[string]any {
			return map[string]any{"scalingGroupName": n, "hostType": "kx.sg.large", "availabilityZoneId": "use1-az1"}
		}
		return idemRequest{"POST", "/kx/environments/" + e + "/scalingGroups", sg("sg-one")},
			idemRequest{"POST", "/kx/environments/" + e + "/scalingGroups", sg("sg-two")}
	},
	"DeleteKxScalingGroup": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxEnv(t, send, "idem-kx-sg-delete")
		for _, n := range []string{"sg-one", "sg-two"} {
			mustSend(t, send, idemRequest{"POST", "/kx/environments/" + e + "/scalingGroups",
				map[string]any{"scalingGroupName": n, "hostType": "kx.sg.large", "availabilityZoneId": "use1-az1", "clientToken": "setup-" + n + "-" + e}})
		}
		return idemRequest{"DELETE", "/kx/environments/" + e + "/scalingGroups/sg-one", nil}, idemRequest{"DELETE", "/kx/environments/" + e + "/scalingGroups/sg-two", nil}
	},
	"CreateKxVolume": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxEnv(t, send, "idem-kx-volume")
		return idemRequest{"POST", "/kx/environments/" + e + "/kxvolumes", idemVolume("vol-one")},
			idemRequest{"POST", "/kx/environments/" + e + "/kxvolumes", idemVolume("vol-two")}
	},
	"UpdateKxVolume": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxEnv(t, send, "idem-kx-volume-update")
		body := idemVolume("vol-one")
		body["clientToken"] = "setup-vol-one-" + e
		mustSend(t, send, idemRequest{"POST", "/kx/environments/" + e + "/kxvolumes", body})
		return idemRequest{"PATCH", "/kx/environments/" + e + "/kxvolumes/vol-one", map[string]any{"description": "first"}},
			idemRequest{"PATCH", "/kx/environments/" + e + "/kxvolumes/vol-one", map[string]any{"description": "second"}}
	},
	"DeleteKxVolume": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxEnv(t, send, "idem-kx-volume-delete")
		for _, n := range []string{"vol-one", "vol-two"} {
			body := idemVolume(n)
			body["clientToken"] = "setup-" + n + "-" + e
			mustSend(t, send, idemRequest{"POST", "/kx/environments/" + e + "/kxvolumes", body})
		}
		return idemRequest{"DELETE", "/kx/environments/" + e + "/kxvolumes/vol-one", nil}, idemRequest{"DELETE", "/kx/environments/" + e + "/kxvolumes/vol-two", nil}
	},
	"CreateKxDataview": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxDatabase(t, send, "idem-kx-dataview")
		return idemRequest{"POST", "/kx/environments/" + e + "/databases/db_one/dataviews", idemDataview("dv-one")},
			idemRequest{"POST", "/kx/environments/" + e + "/databases/db_one/dataviews", idemDataview("dv-two")}
	},
	"UpdateKxDataview": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxDatabase(t, send, "idem-kx-dataview-update")
		body := idemDataview("dv-one")
		body["clientToken"] = "setup-dv-one-" + e
		mustSend(t, send, idemRequest{"POST", "/kx/environments/" + e + "/databases/db_one/dataviews", body})
		return idemRequest{"PUT", "/kx/environments/" + e + "/databases/db_one/dataviews/dv-one", map[string]any{"description": "first"}},
			idemRequest{"PUT", "/kx/environments/" + e + "/databases/db_one/dataviews/dv-one", map[string]any{"description": "second"}}
	},
	"DeleteKxDataview": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxDatabase(t, send, "idem-kx-dataview-delete")
		for _, n := range []string{"dv-one", "dv-two"} {
			body := idemDataview(n)
			body["clientToken"] = "setup-" + n + "-" + e
			mustSend(t, send, idemRequest{"POST", "/kx/environments/" + e + "/databases/db_one/dataviews", body})
		}
		return idemRequest{"DELETE", "/kx/environments/" + e + "/databases/db_one/dataviews/dv-one", nil},
			idemRequest{"DELETE", "/kx/environments/" + e + "/databases/db_one/dataviews/dv-two", nil}
	},
	"DeleteKxUser": func(t *testing.T, send sendFunc) (idemRequest, idemRequest) {
		e := idemKxEnv(t, send, "idem-kx-user-delete")
		for _, u := range []string{"alice", "bob"} {
			mustSend(t, send, idemRequest{"POST", "/kx/environments/" + e + "/users", map[string]any{"userName": u, "iamRole": "arn:aws:iam::000000000000:role/a"}})
		}
		return idemRequest{"DELETE", "/kx/environments/" + e + "/users/alice", nil}, idemRequest{"DELETE", "/kx/environments/" + e + "/users/bob", nil}
	},
}

// kxReady is the method of a pseudo-request that each walk's send answers
// by bringing kx environment path to CREATED (on the real server, by
// driving its lifecycle on the manual clock).
const kxReady = "KXREADY"

// idemKxEnv creates a kx environment (users may be added while it is
// still being created).
func idemDataview(name string) map[string]any {
	return map[string]any{"dataviewName": name, "azMode": "SINGLE", "availabilityZoneId": "use1-az1", "autoUpdate": true}
}

func idemVolume(name string) map[string]any {
	return map[string]any{"volumeName": name, "volumeType": "NAS_1", "azMode": "SINGLE", "availabilityZoneIds": []string{"use1-az1"},
		"nas1Configuration": map[string]any{"type": "SSD_250", "size": 1200}}
}

func idemKxEnv(t *testing.T, send sendFunc, name string) string {
	t.Helper()
	id, _ := mustSend(t, send, idemRequest{"POST", "/kx/environments", map[string]any{"name": name, "kmsKeyId": "arn:aws:kms:us-east-1:000000000000:key/k"}}).body["environmentId"].(string)
	return id
}

// idemKxReady creates a kx environment and brings it to CREATED.
func idemKxReady(t *testing.T, send sendFunc, name string) string {
	t.Helper()
	e := idemKxEnv(t, send, name)
	send(t, idemRequest{method: kxReady, path: e}, "")
	return e
}

// idemKxDatabase creates a CREATED kx environment with database db_one.
func idemKxDatabase(t *testing.T, send sendFunc, name string) string {
	t.Helper()
	e := idemKxReady(t, send, name)
	mustSend(t, send, idemRequest{"POST", "/kx/environments/" + e + "/databases", map[string]any{"databaseName": "db_one", "clientToken": "setup-one-" + name}})
	return e
}

func mustSend(t *testing.T, send sendFunc, r idemRequest) wireResponse {
	t.Helper()
	resp := send(t, r, "")
	if resp.status/100 != 2 {
		t.Fatalf("%s %s: %d %s %v", r.method, r.path, resp.status, resp.code, resp.body)
	}
	return resp
}

func idemUser(t *testing.T, send sendFunc, name string) string {
	t.Helper()
	id, _ := mustSend(t, send, idemRequest{"POST", "/user", map[string]any{"emailAddress": name + "@example.com", "type": "APP_USER"}}).body["userId"].(string)
	return id
}

func idemGroup(t *testing.T, send sendFunc, name string) string {
	t.Helper()
	id, _ := mustSend(t, send, idemRequest{"POST", "/permission-group", map[string]any{"name": name, "applicationPermissions": []string{"ViewAuditData"}}}).body["permissionGroupId"].(string)
	return id
}

// withToken returns r's path and body with client token token.
func (r idemRequest) withToken(token string) (string, []byte) {
	path, body := r.path, map[string]any{}
	for k, v := range r.body {
		body[k] = v
	}
	if token != "" {
		if r.method == "DELETE" {
			path += "?clientToken=" + token
		} else {
			body["clientToken"] = token
		}
	}
	raw, _ := json.Marshal(body)
	return path, raw
}

// idempotentOperations are the operations whose models have a clientToken
// member, by signing name.
func idempotentOperations() map[string][]*restjson.Operation {
	out := map[string][]*restjson.Operation{}
	for service, ops := range map[string][]*restjson.Operation{wfinspace.SigningName: wfinspace.Operations, finspacedata.SigningName: finspacedata.Operations} {
		for _, op := range ops {
			if op.IdempotencyToken != "" {
				out[service] = append(out[service], op)
			}
		}
	}
	return out
}

// TestEveryIdempotentOperationReplays walks every implemented operation
// with a clientToken member through a real server: a retry with the same
// token answers the first response (the same resource id), the token with
// other parameters is a conflict, and the operation marked its token where
// it committed — after a crash between its commit and the stored response
// (replayed here by rewinding the token's record) a retry is refused
// instead of running the operation a second time.
func TestEveryIdempotentOperationReplays(t *testing.T) {
	srv, clk := servertest.StartClocked(t)
	createdEnvironment(t, servertest.Finspace(srv), "idempotency")
	sc := newSignedClient(srv)
	implemented := server.ImplementedOperations()
	for service, ops := range idempotentOperations() {
		send := func(t *testing.T, r idemRequest, token string) wireResponse {
			t.Helper()
			if r.method == changesetSucceeded {
				markChangesetSucceeded(t, srv.Store(), r.path)
				return wireResponse{status: 200}
			}
			if r.method == kxReady {
				// As waitKxStatus: one clock step per status change, then
				// reads until the engine took the step the clock made due.
				last, deadline := "", time.Time{}
				for {
					sc.now = clk.Now()
					st, _ := sc.do(t, service, "GET", "/kx/environments/"+r.path, nil, true).body["status"].(string)
					switch {
					case st == "CREATED":
						return wireResponse{status: 200}
					case st != last:
						last, deadline = st, time.Now().Add(10*time.Second)
						clk.Advance(clk.Step)
					case time.Now().After(deadline):
						t.Fatalf("kx environment %s: the step from %s was due and not taken", r.path, st)
					}
				}
			}
			path, body := r.withToken(token)
			sc.now = clk.Now() // the server's clock moves past StaleAfter below
			return sc.do(t, service, r.method, path, body, true)
		}
		for _, op := range ops {
			if !implemented[service][op.Name] {
				continue
			}
			setup, ok := idempotentCases[op.Name]
			if !ok {
				t.Errorf("%s has a clientToken and is implemented: add it to idempotentCases", op.Name)
				continue
			}
			t.Run(op.Name, func(t *testing.T) {
				req, other := setup(t, send)
				before := idempotencyRecords(t, srv.Store())
				token := "token-" + op.Name
				first := send(t, req, token)
				if first.status != op.SuccessCode {
					t.Fatalf("first request: %d %s %v, want %d", first.status, first.code, first.body, op.SuccessCode)
				}
				again := send(t, req, token)
				if again.status != first.status || !reflect.DeepEqual(again.body, first.body) {
					t.Errorf("retry: %d %v, want the first response %d %v", again.status, again.body, first.status, first.body)
				}
				if r := send(t, other, token); r.code != "ConflictException" {
					t.Errorf("the token with other parameters: %d %s, want ConflictException", r.status, r.code)
				}

				// The server stops after the operation committed and before
				// its response is stored; the claim goes stale.
				var fresh []*store.Record
				for _, rec := range idempotencyRecords(t, srv.Store()) {
					if before[rec.ID] == nil {
						fresh = append(fresh, rec)
					}
				}
				if len(fresh) != 1 {
					t.Fatalf("%d new idempotency records, want 1", len(fresh))
				}
				forgetResponse(t, srv.Store(), fresh[0])
				clk.Advance(2 * time.Minute)
				r := send(t, req, token)
				if msg, _ := r.body["message"].(string); r.code != "ConflictException" || !strings.Contains(msg, "took effect") {
					t.Errorf("retry after the response was lost: %d %s %v; want ConflictException: the operation did not mark its client token in its commit", r.status, r.code, r.body)
				}
			})
		}
	}
}

func idempotencyRecords(t *testing.T, db store.Store) map[string]*store.Record {
	t.Helper()
	out := map[string]*store.Record{}
	err := db.View(context.Background(), func(tx store.Tx) error {
		recs, err := tx.List(context.Background(), store.Query{Kind: idempotency.Kind, AnyParent: true})
		for _, r := range recs {
			out[r.ID] = r
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// forgetResponse rewinds a token's record to the moment after the
// operation committed and before the handler stored its response (the
// fields of package idempotency's record document).
func forgetResponse(t *testing.T, db store.Store, rec *store.Record) {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d["done"] != true {
		t.Fatalf("the token's record %v is not done", d)
	}
	d["done"] = false
	delete(d, "response")
	rec.Data, _ = json.Marshal(d)
	if err := db.Update(context.Background(), func(tx store.Tx) error { return tx.Update(context.Background(), rec) }); err != nil {
		t.Fatal(err)
	}
}

// txRecorder is the store of the operations in TestIdempotentOperations-
// MarkInTheirCommit. For a request with a client token it records each
// transaction that committed: how many records it wrote and whether it
// marked the token (wrote the token's idempotency record).
type txRecorder struct {
	store.Store
	mu  sync.Mutex
	txs []txWrites
}

type txWrites struct{ writes, marks int }

func (r *txRecorder) Update(ctx context.Context, fn func(store.Tx) error) error {
	if clienttoken.Key(ctx) == "" {
		return r.Store.Update(ctx, fn)
	}
	var w txWrites
	err := r.Store.Update(ctx, func(tx store.Tx) error {
		w = txWrites{} // fn may run again
		return fn(recordingTx{tx, &w})
	})
	if err == nil {
		r.mu.Lock()
		r.txs = append(r.txs, w)
		r.mu.Unlock()
	}
	return err
}

// take returns the transactions recorded since the last call.
func (r *txRecorder) take() []txWrites {
	r.mu.Lock()
	defer r.mu.Unlock()
	txs := r.txs
	r.txs = nil
	return txs
}

type recordingTx struct {
	store.Tx
	w *txWrites
}

func (t recordingTx) count(kind string) {
	if kind == idempotency.Kind {
		t.w.marks++
	} else {
		t.w.writes++
	}
}

func (t recordingTx) Insert(ctx context.Context, rec *store.Record) error {
	t.count(rec.Kind)
	return t.Tx.Insert(ctx, rec)
}

func (t recordingTx) Update(ctx context.Context, rec *store.Record) error {
	t.count(rec.Kind)
	return t.Tx.Update(ctx, rec)
}

func (t recordingTx) Delete(ctx context.Context, kind, id string) error {
	t.count(kind)
	return t.Tx.Delete(ctx, kind, id)
}

// rootCaller is a test double: every request is the root caller.
type rootCaller struct{}

func (rootCaller) Authenticate(context.Context, *http.Request, []byte) (auth.Caller, error) {
	return auth.Caller{Principal: auth.Principal{Kind: auth.Root, Account: "000000000000", ARN: "arn:aws:iam::000000000000:root"},
		Region: servertest.Region}, nil
}

// allowAll is a test double: every caller may call every operation.
type allowAll struct{}

func (allowAll) Authorize(context.Context, auth.Caller, string, string) error { return nil }

// TestIdempotentOperationsMarkInTheirCommit walks every implemented
// finspace-data operation with a clientToken member through the real
// adapters and domain services over a store that records transactions,
// and checks that each marks its client token exactly once, in its last
// write transaction, the one with its effects: an operation that forgot
// the mark, or made it in the first of two transactions (so that a
// failure in the second would leave a retry refused although nothing took
// effect), fails here. A retry runs no transaction at all.
func TestIdempotentOperationsMarkInTheirCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := keyring.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	rec := &txRecorder{Store: db}
	// The tokens' own transactions (claim, response) use the store itself.
	tokens := idempotency.New(db, keys, idempotency.Options{})
	envs := environment.New(environment.Config{Store: rec, Account: "000000000000"})
	ident := identity.New(identity.Config{Store: rec, Credentials: credstore.New(db, keys, credstore.Options{}),
		Environments: envs, Account: "000000000000", Tokens: tokens})
	env := &environment.Environment{ID: "idemaaaaaaaaaaaaaaaaaa", Region: servertest.Region, Status: environment.Created, CreatedAt: time.Now(),
		Superuser: &environment.Superuser{EmailAddress: "boss@example.com", FirstName: "B", LastName: "Oss"}}
	err = db.Update(ctx, func(tx store.Tx) error {
		data, _ := json.Marshal(env)
		if err := tx.Insert(ctx, &store.Record{Kind: environment.Kind, ID: env.ID, Parent: env.Region, SortKey: "1", Data: data}); err != nil {
			return err
		}
		return ident.CreateSuperuserTx(ctx, tx, env)
	})
	if err != nil {
		t.Fatal(err)
	}
	fd := &finspacedata.Handlers{}
	apifinspacedata.Register(fd, &apifinspacedata.Adapter{Identity: ident, Pages: paging.NewCodec(keys.Key("page-tokens")), Account: "000000000000",
		Datasets: dataset.New(dataset.Config{Store: rec, Tokens: tokens, Identity: ident, Account: "000000000000"})})
	fs := &wfinspace.Handlers{}
	kxs := kx.New(kx.Config{Store: rec, Tokens: tokens, Account: "000000000000"})
	groups := scaling.New(scaling.Config{Kx: kxs, Mutate: resource.Mutator{DB: rec, Tokens: tokens}})
	kxUsers := users.New(kxs, resource.Mutator{DB: rec, Tokens: tokens}, nil)
	vols := volumes.New(volumes.Config{Kx: kxs, Root: filepath.Join(dir, "volumes"), Mutate: resource.Mutator{DB: rec, Tokens: tokens}})
	views := dataviews.New(dataviews.Config{Kx: kxs, Volumes: vols, Root: filepath.Join(dir, "dataviews"), Mutate: resource.Mutator{DB: rec, Tokens: tokens}})
	apifinspace.Register(fs, &apifinspace.Adapter{Kx: kxs, Scaling: groups, Users: kxUsers, Volumes: vols, Dataviews: views, Pages: paging.NewCodec(keys.Key("page-tokens"))})
	handler := &restjson.Handler{
		Services: map[string]*restjson.Service{
			finspacedata.SigningName: {SigningName: finspacedata.SigningName, Operations: finspacedata.Operations, Lookup: fd.Lookup},
			wfinspace.SigningName:    {SigningName: wfinspace.SigningName, Operations: wfinspace.Operations, Lookup: fs.Lookup},
		},
		Scope: func(r *http.Request) (string, bool) {
			if strings.HasPrefix(r.URL.Path, "/kx/") {
				return wfinspace.SigningName, true
			}
			return finspacedata.SigningName, true
		},
		Auth:        rootCaller{},
		Authz:       allowAll{},
		Idempotency: tokens,
	}
	handler.Init()
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	send := func(t *testing.T, r idemRequest, token string) wireResponse {
		t.Helper()
		if r.method == changesetSucceeded {
			markChangesetSucceeded(t, db, r.path)
			return wireResponse{status: 200}
		}
		if r.method == kxReady { // no job engine here: write the status
			err := db.Update(ctx, func(tx store.Tx) error {
				rec, err := tx.Get(ctx, kx.EnvironmentKind, r.path)
				if err != nil {
					return err
				}
				var d map[string]any
				if err := json.Unmarshal(rec.Data, &d); err != nil {
					return err
				}
				d["status"] = "CREATED"
				rec.Data, _ = json.Marshal(d)
				return tx.Update(ctx, rec)
			})
			if err != nil {
				t.Fatal(err)
			}
			return wireResponse{status: 200}
		}
		path, body := r.withToken(token)
		req, err := http.NewRequest(r.method, ts.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		out := wireResponse{status: resp.StatusCode, code: resp.Header.Get("X-Amzn-ErrorType")}
		_ = json.Unmarshal(raw, &out.body)
		return out
	}

	for service, ops := range idempotentOperations() {
		for _, op := range ops {
			lookup := fd.Lookup
			if service == wfinspace.SigningName {
				lookup = fs.Lookup
			}
			if lookup(op.Name) == nil {
				if server.ImplementedOperations()[service][op.Name] {
					t.Errorf("%s:%s has a clientToken and is implemented: serve it here too", service, op.Name)
				}
				continue
			}
			setup, ok := idempotentCases[op.Name]
			if !ok {
				t.Errorf("%s has a clientToken and is implemented: add it to idempotentCases", op.Name)
				continue
			}
			t.Run(op.Name, func(t *testing.T) {
				req, _ := setup(t, send)
				rec.take()
				token := "token-" + op.Name
				if r := send(t, req, token); r.status != op.SuccessCode {
					t.Fatalf("%d %s %v, want %d", r.status, r.code, r.body, op.SuccessCode)
				}
				txs := rec.take()
				last, marked := -1, []int{}
				for i, w := range txs {
					if w.writes > 0 {
						last = i
					}
					if w.marks > 0 {
						marked = append(marked, i)
					}
				}
				switch {
				case last < 0:
					t.Errorf("transactions %v: the operation wrote nothing", txs)
				case len(marked) == 0:
					t.Errorf("transactions %v: the operation never marked its client token (call CommitTx in its commit)", txs)
				case len(marked) > 1 || marked[0] != last:
					t.Errorf("transactions %v: the client token was marked in transaction %v, want only in the last one that writes, %d", txs, marked, last)
				}
				if r := send(t, req, token); r.status != op.SuccessCode {
					t.Errorf("retry: %d %s", r.status, r.code)
				}
				if txs := rec.take(); len(txs) != 0 {
					t.Errorf("a retry ran %d transactions of the operation, want none", len(txs))
				}
			})
		}
	}
}
