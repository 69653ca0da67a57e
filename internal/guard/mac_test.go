package guard

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/hellosvc/hello/internal/b64url"
)

// The pooled HMACs give the keys and hashes hmac.New gave: stores (Redis shared by replicas of
// several versions) keep them.
func TestPooledMACsAsHMACNew(t *testing.T) {
	g := &Guard{macs: newMACs(deriveKeys([]byte("a secret for the test of the pooled macs")))}
	k := deriveKeys([]byte("a secret for the test of the pooled macs"))
	sum := func(key []byte, parts ...[]byte) []byte {
		m := hmac.New(sha256.New, key)
		for _, p := range parts {
			m.Write(p)
		}
		return m.Sum(nil)
	}
	var wg sync.WaitGroup
	for w := range 4 { // the pool is shared: check under concurrent use too
		wg.Go(func() {
			for i := range 200 {
				name := fmt.Sprintf("name-%d-%d-%s", w, i, string(make([]byte, i%70)))
				pw := fmt.Sprintf("password %d", i*w)
				if got, want := g.userKey(name), "u:"+b64url.Encode(sum(k.name, []byte(name))[:16]); got != want {
					t.Errorf("userKey(%q) = %q, want %q", name, got, want)
				}
				var want Guess
				copy(want[:], sum(k.guess, []byte(name), []byte{0}, []byte(pw)))
				if got := g.guess(name, pw); got != want {
					t.Errorf("guess(%q, %q) = %x, want %x", name, pw, got, want)
				}
				body := []byte(pw)
				if got, want := g.deviceMAC(name, body), sum(k.device, []byte(name), []byte{0}, body)[:16]; !hmac.Equal(got, want) {
					t.Errorf("deviceMAC(%q) = %x, want %x", name, got, want)
				}
			}
		})
	}
	wg.Wait()
}

// The sender keys are spelled as they were (stores keep them).
func TestSenderKeysAsString(t *testing.T) {
	for _, s := range []string{"198.51.100.7", "0.0.0.0", "255.255.255.255", "2001:db8:1:2::3", "::1",
		"::ffff:198.51.100.7", "fe80::1%eth0", "fe80::1%" + string(make([]byte, 80)), "2001:db8::"} {
		ip := netip.MustParseAddr(s)
		if got, want := addrKey("s", ip), "s:"+ip.String(); got != want {
			t.Errorf("addrKey(%s) = %q, want %q", s, got, want)
		}
		for _, bits := range []int{48, 64, 128} {
			p, err := ip.Prefix(bits)
			if err != nil {
				continue
			}
			if got, want := prefixKey("a", p), "a:"+p.String(); got != want {
				t.Errorf("prefixKey(%s) = %q, want %q", p, got, want)
			}
		}
	}
	if got, want := addrKey("s", netip.Addr{}), "s:"+(netip.Addr{}).String(); got != want {
		t.Errorf("addrKey(invalid) = %q, want %q", got, want)
	}
	if got, want := prefixKey("s", netip.Prefix{}), "s:"+(netip.Prefix{}).String(); got != want {
		t.Errorf("prefixKey(invalid) = %q, want %q", got, want)
	}
}
