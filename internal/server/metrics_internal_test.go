package server

import (
	"net/http/httptest"
	"testing"
)

func TestS3Operation(t *testing.T) {
	for _, c := range []struct{ method, target, copySource, want string }{
		{"GET", "/", "", "ListBuckets"},
		{"PUT", "/b", "", "CreateBucket"},
		{"HEAD", "/b", "", "HeadBucket"},
		{"GET", "/b?list-type=2&prefix=x", "", "ListObjectsV2"},
		{"GET", "/b", "", "ListObjects"},
		{"GET", "/b?uploads", "", "ListMultipartUploads"},
		{"POST", "/b?delete", "", "DeleteObjects"},
		{"DELETE", "/b", "", "DeleteBucket"},
		{"GET", "/b/k/x.csv", "", "GetObject"},
		{"HEAD", "/b/k", "", "HeadObject"},
		{"PUT", "/b/k", "", "PutObject"},
		{"PUT", "/b/k", "/src/k", "CopyObject"},
		{"POST", "/b/k?uploads", "", "CreateMultipartUpload"},
		{"PUT", "/b/k?partNumber=2&uploadId=u", "", "UploadPart"},
		{"PUT", "/b/k?partNumber=2&uploadId=u", "/src/k", "UploadPartCopy"},
		{"POST", "/b/k?uploadId=u", "", "CompleteMultipartUpload"},
		{"DELETE", "/b/k?uploadId=u", "", "AbortMultipartUpload"},
		{"GET", "/b/k?uploadId=u", "", "ListParts"},
		{"DELETE", "/b/k", "", "DeleteObject"},
		{"PATCH", "/b/k", "", "Unknown"},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if c.copySource != "" {
			r.Header.Set("X-Amz-Copy-Source", c.copySource)
		}
		if got := s3Operation(r); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.method, c.target, got, c.want)
		}
	}
}
