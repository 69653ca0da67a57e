// Command tfdocs rewrites the Inputs/Outputs tables of every module README
// under modules/ from the parsed variables.tf and outputs.tf.
//
//	go run ./cmd/tfdocs          # rewrite
//	go run ./cmd/tfdocs -check   # exit 1 when a README is out of date
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hellosvc/hello/deploy/terraform/internal/tfdocs"
)

func main() {
	root := flag.String("root", ".", "directory holding modules/")
	check := flag.Bool("check", false, "only report out-of-date READMEs")
	flag.Parse()

	dirs, err := tfdocs.ModuleDirs(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tfdocs:", err)
		os.Exit(2)
	}
	stale := 0
	for _, dir := range dirs {
		_, changed, err := tfdocs.Sync(dir, !*check)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tfdocs:", err)
			os.Exit(2)
		}
		if changed {
			stale++
			if *check {
				fmt.Printf("%s/README.md is out of date\n", dir)
			} else {
				fmt.Printf("updated %s/README.md\n", dir)
			}
		}
	}
	if *check && stale > 0 {
		os.Exit(1)
	}
}
