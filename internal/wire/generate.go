// Package wire holds the wire layer: the hand-written runtimes (restjson
// for rest-json, awsjson for awsJson 1.1) and the packages generated from
// the AWS service models (finspace, finspacedata, glue; see gen).
package wire

//go:generate go run ./gen -models ../../api/models -out . -testclient ../testclient/finspacedata
