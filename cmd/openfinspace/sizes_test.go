package main

import "testing"

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "20GiB": 20 << 30, "512 MiB": 512 << 20, "2gb": 2e9, "1.5KiB": 1536, "7b": 7} {
		if got, ok := parseBytes(in); !ok || got != want {
			t.Errorf("parseBytes(%q) = %d %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "GiB", "12 parsecs", "-1", "1e3", "99999999TiB"} {
		if got, ok := parseBytes(in); ok && got > 0 {
			t.Errorf("parseBytes(%q) = %d, want refused", in, got)
		}
	}
}
