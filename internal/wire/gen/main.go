// Command gen generates the wire packages of the FinSpace services from the
// AWS service models: Go types with wire names, enums, Validate and
// BindParams methods, the operation table and the Handlers struct, plus
// the per-operation methods of the finspace-data test client.
//
// Usage (see internal/wire/generate.go):
//
//	go run ./gen -models ../../api/models -out . -testclient ../testclient/finspacedata
//
// Generation fails, writing nothing, on a model feature the generator does
// not understand, a pattern that neither compiles with Go's regexp nor has
// a hand-written matcher in shape, or a Go name collision.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var cfg Config
	flag.StringVar(&cfg.ModelsDir, "models", "../../api/models", "directory of the botocore and Smithy models")
	flag.StringVar(&cfg.WireDir, "out", ".", "directory that gets one package directory per service (internal/wire)")
	flag.StringVar(&cfg.TestClientDir, "testclient", "", "directory of the finspace-data test client (empty: skip)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "gen: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	files, err := Generate(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
	if err := WriteFiles(files); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}
