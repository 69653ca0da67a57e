package guard_test

import (
	"testing"

	"github.com/hellosvc/hello/internal/b64url"
)

// FuzzDevice: a device cookie is accepted only as issued: its canonical spelling, for its name.
func FuzzDevice(f *testing.F) {
	e := newEnv(f, defaultConfig())
	e.signupUnguarded(f, "alice")
	res, code := e.login("alice", "right password", "")
	if code != "" || res.Device == "" {
		f.Fatalf("login: %s", code)
	}
	good := res.Device
	f.Add(good, "alice")
	f.Add(good, "bob")
	f.Add(good+"=", "alice")
	f.Add(good[:20]+"\n"+good[20:], "alice")
	f.Fuzz(func(t *testing.T, cookie, name string) {
		id, ok := e.guard.Device(cookie, name)
		if !ok {
			return
		}
		if _, canonical := b64url.Decode(cookie, 40, 0); !canonical || len(id) != 32 || name != "alice" {
			t.Fatalf("accepted cookie %q for %q as device %q", cookie, name, id)
		}
		// The same bytes spelled otherwise, or for another name, are refused.
		for _, v := range []string{cookie + "=", cookie[:7] + "\n" + cookie[7:], " " + cookie} {
			if _, ok := e.guard.Device(v, name); ok {
				t.Fatalf("accepted %q, a respelling of %q", v, cookie)
			}
		}
		if _, ok := e.guard.Device(cookie, name+"x"); ok {
			t.Fatalf("cookie %q accepted for another name", cookie)
		}
	})
}
