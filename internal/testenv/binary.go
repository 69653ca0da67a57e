package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BinaryEnv names a hello executable built as Binary builds it. scripts/test builds one per run
// and passes it on: compiling every package with CGO_ENABLED=0 -trimpath shares nothing with the
// -race build of the tests, so building it inside each test that runs the binary cost minutes.
const BinaryEnv = "HELLO_TEST_BINARY"

// BinaryVersion is the version stamped into the binary (`hello version` prints it).
const BinaryVersion = "v9.9.9"

// BinaryLDFlags are the Dockerfile's -ldflags, with BinaryVersion for ${VERSION}.
const BinaryLDFlags = "-s -w -X github.com/hellosvc/hello/internal/cli.version=" + BinaryVersion

// Binary returns the path of hello built as the Dockerfile builds it (CGO_ENABLED=0 go build
// -trimpath -ldflags BinaryLDFlags): the file named by $HELLO_TEST_BINARY, or else one it
// builds into the test's temporary directory.
func Binary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(BinaryEnv); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "hello")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", BinaryLDFlags, "-o", bin, "github.com/hellosvc/hello/cmd/hello")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
