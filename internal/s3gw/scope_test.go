package s3gw

import "testing"

func TestScopeDenial(t *testing.T) {
	const bucket, prefix = "views", "v1/"
	allowed := []struct{ method, target string }{
		{"GET", "/views/v1/a.parquet"},
		{"HEAD", "/views/v1/sub/b.parquet"},
		{"GET", "/views/v1/a%20b.parquet?partNumber=1&response-content-type=text%2Fplain"},
		{"GET", "/views/v1/a?x-id=GetObject"},
		{"GET", "/views/v1/a?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=d&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=s&X-Amz-Security-Token=t"},
		{"GET", "/views?list-type=2&prefix=v1%2F&delimiter=%2F&max-keys=10"},
		{"GET", "/views?prefix=v1/sub/&marker=v1/a"},
		{"GET", "/views/?list-type=2&prefix=v1/&continuation-token=abc&start-after=v1/a&encoding-type=url&fetch-owner=true"},
	}
	for _, a := range allowed {
		if why := scopeDenial(a.method, a.target, bucket, prefix); why != "" {
			t.Errorf("%s %s denied: %s", a.method, a.target, why)
		}
	}
	denied := []struct{ method, target string }{
		{"PUT", "/views/v1/a"},
		{"DELETE", "/views/v1/a"},
		{"POST", "/views/v1/a?uploads"},
		{"GET", "/views/v2/a"},
		{"GET", "/views/v10/a"},
		{"GET", "/views/v1/../v2/a"},
		{"GET", "/views/v1/%2e%2e/v2/a"},
		{"GET", "/views/v1/./a"},
		{"GET", "/other/v1/a"},
		{"GET", "/views/v1/a?acl"},
		{"GET", "/views/v1/a?tagging"},
		{"GET", "/views/v1/a?attributes"},
		{"GET", "/views/v1/a?uploadId=x"},
		{"GET", "/views/v1/a?partNumber=1&partNumber=2"},
		{"GET", "/views"},
		{"GET", "/views?list-type=2"},
		{"GET", "/views?list-type=2&prefix=v2/"},
		{"GET", "/views?list-type=2&prefix=v1/../v2/"},
		{"GET", "/views?prefix=v1/&prefix=v2/"},
		{"GET", "/views?location"},
		{"GET", "/views?versions&prefix=v1/"},
		{"GET", "/views?uploads&prefix=v1/"},
		{"HEAD", "/views"},
		{"GET", "/"},
		{"GET", "/views/v1/a?x=1;y=2"},
		{"GET", "/views/v1/%zz"},
	}
	for _, d := range denied {
		if why := scopeDenial(d.method, d.target, bucket, prefix); why == "" {
			t.Errorf("%s %s allowed", d.method, d.target)
		}
	}
	// An empty prefix grants the whole bucket, still read-only.
	if why := scopeDenial("GET", "/views?list-type=2", bucket, ""); why != "" {
		t.Errorf("whole-bucket listing denied: %s", why)
	}
	if why := scopeDenial("PUT", "/views/a", bucket, ""); why == "" {
		t.Error("whole-bucket PUT allowed")
	}
}

func TestValidRegion(t *testing.T) {
	for _, ok := range []string{"us-east-1", "eu-central-2", "us-gov-west-1", "auto", "local"} {
		if !validRegion(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "US-EAST-1", "../x", "us east", "a/b", "-x", "toolongtoolongtoolongtoolongtoolong"} {
		if validRegion(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
