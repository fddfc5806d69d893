// Package wire holds the rest-json wire layer: the hand-written runtime in
// restjson and the packages generated from the AWS service models
// (finspace, finspacedata; see gen).
package wire

//go:generate go run ./gen -models ../../api/models -out . -testclient ../testclient/finspacedata
