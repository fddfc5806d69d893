//go:build !linux

package ingest

// freeBytes is unknown off Linux: only the budget bounds staging there.
func freeBytes(string) (int64, bool) { return 0, false }
