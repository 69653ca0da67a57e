package scenario

import (
	"fmt"
	"os"
	"slices"
	"testing"
)

// harness lets the runner use testenv's throwaway servers (redis-server, PostgreSQL
// databases) outside a test. testenv reports through testing.TB; it calls only the methods
// below, and Fatal ends the step that do runs with an error instead of a test.
type harness struct {
	testing.TB // nil: a call to any other method is a bug and panics

	dir      string
	cleanups []func()
}

type harnessFailure string

func newHarness() (*harness, error) {
	dir, err := os.MkdirTemp("", "hello-scenario-")
	if err != nil {
		return nil, err
	}
	return &harness{dir: dir}, nil
}

func (h *harness) Helper()          {}
func (h *harness) Cleanup(f func()) { h.cleanups = append(h.cleanups, f) }
func (h *harness) Fatal(args ...any) {
	panic(harnessFailure(fmt.Sprint(args...)))
}
func (h *harness) Fatalf(format string, args ...any) {
	panic(harnessFailure(fmt.Sprintf(format, args...)))
}

func (h *harness) TempDir() string {
	d, err := os.MkdirTemp(h.dir, "")
	if err != nil {
		h.Fatal(err)
	}
	return d
}

// do runs step and returns a Fatal inside it as an error.
func (h *harness) do(step func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(harnessFailure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", string(f))
		}
	}()
	step()
	return nil
}

// close runs the cleanups, newest first, and removes the directory.
func (h *harness) close() {
	for _, f := range slices.Backward(h.cleanups) {
		f()
	}
	h.cleanups = nil
	_ = os.RemoveAll(h.dir)
}
