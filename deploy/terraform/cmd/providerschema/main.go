// Command providerschema extracts, from an unpacked @cdktn/provider-aws npm
// package, the schema of every aws_* resource, data source and ephemeral
// resource the Terraform tree uses, and writes it to
// <outdir>/aws-<provider version>.json. schema/regenerate runs it; the
// package itself (476 MB unpacked) is never committed.
//
//	go run ./cmd/providerschema -package /tmp/x/package -outdir schema
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hellosvc/hello/deploy/terraform/internal/providerschema"
)

func main() {
	pkg := flag.String("package", "", "unpacked @cdktn/provider-aws package (the directory with package.json)")
	tree := flag.String("tree", ".", "Terraform tree whose aws_* types are kept")
	outdir := flag.String("outdir", "schema", "directory of the aws-<version>.json files")
	flag.Parse()
	if err := run(*pkg, *tree, *outdir); err != nil {
		fmt.Fprintln(os.Stderr, "providerschema:", err)
		os.Exit(1)
	}
}

func run(pkg, tree, outdir string) error {
	if pkg == "" {
		return fmt.Errorf("-package is required")
	}
	bodies, err := providerschema.ParseTree(tree)
	if err != nil {
		return err
	}
	used := providerschema.UsedTypes(bodies, "aws_")
	s, err := providerschema.Extract(pkg, func(kind, typ string) bool { return used[kind][typ] })
	if err != nil {
		return err
	}
	var missing []string
	for kind, types := range used {
		for typ := range types {
			if _, ok := s.Lookup(kind, typ); !ok {
				missing = append(missing, kind+" "+typ)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("%s has no %s", s.Source, strings.Join(missing, ", "))
	}
	out := filepath.Join(outdir, "aws-"+s.Version+".json")
	if err := s.Save(out); err != nil {
		return err
	}
	fmt.Printf("%s: %d resources, %d data sources, %d ephemeral resources from %s\n",
		out, len(s.Resources), len(s.DataSources), len(s.EphemeralResources), s.Source)
	return nil
}
