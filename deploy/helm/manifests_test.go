package helm

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var manifestsDir = flag.String("manifests", "", "also write every rendering the tests make into this directory, one YAML file each, for kubeconform and kube-score (./check)")

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// saveManifests writes one rendering's objects (hooks and the test pod included) as one
// multi-document YAML file named after the test, when -manifests is set.
func saveManifests(t testing.TB, files map[string]string) {
	t.Helper()
	if *manifestsDir == "" {
		return
	}
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for _, doc := range splitDocuments(files[name]) {
			b.WriteString("---\n# Source: " + name + "\n" + strings.TrimSpace(doc) + "\n")
		}
	}
	base := unsafeName.ReplaceAllString(t.Name(), "_")
	path := filepath.Join(*manifestsDir, base+".yaml")
	for i := 2; ; i++ {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			break
		}
		path = filepath.Join(*manifestsDir, base+"."+strconv.Itoa(i)+".yaml")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
