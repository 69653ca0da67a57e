package realip

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name   string
		mode   Header
		peer   string
		header map[string]string
		want   string
	}{
		{"direct client", XForwardedFor, "203.0.113.5:1234", nil, "203.0.113.5"},
		{"spoofed header from an untrusted peer is ignored", XForwardedFor, "203.0.113.5:1234", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy", XForwardedFor, "10.0.0.2:1234", map[string]string{"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"},
		{"right-most untrusted wins over a forged left part", XForwardedFor, "10.0.0.2:1234", map[string]string{"X-Forwarded-For": "1.2.3.4, 198.51.100.7, 10.0.0.9"}, "198.51.100.7"},
		{"all hops trusted", XForwardedFor, "10.0.0.2:1234", map[string]string{"X-Forwarded-For": "10.1.1.1"}, "10.1.1.1"},
		{"no header from a trusted proxy", XForwardedFor, "10.0.0.2:1234", nil, "10.0.0.2"},
		{"garbage hop falls back to the proxy", XForwardedFor, "10.0.0.2:1234", map[string]string{"X-Forwarded-For": "1.2.3.4, not-an-ip"}, "10.0.0.2"},
		{"Forwarded header", Forwarded, "10.0.0.2:1234", map[string]string{"Forwarded": `for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"IPv6 peer", XForwardedFor, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"IPv4-mapped peer", XForwardedFor, "[::ffff:203.0.113.5]:443", nil, "203.0.113.5"},
		{"IPv6 trusted proxy", XForwardedFor, "[fd00::1]:443", map[string]string{"X-Forwarded-For": "2001:db8::99"}, "2001:db8::99"},
		// Issue 9: behind a proxy that appends X-Forwarded-For, a client-sent Forwarded must
		// not pick the address (nor any other header than the configured one).
		{"Forwarded from the client is ignored in X-Forwarded-For mode", XForwardedFor, "10.0.0.2:1234",
			map[string]string{"Forwarded": "for=192.0.2.77", "X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"},
		{"X-Real-IP from the client is ignored in X-Forwarded-For mode", XForwardedFor, "10.0.0.2:1234",
			map[string]string{"X-Real-IP": "192.0.2.77", "X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"},
		{"X-Forwarded-For is ignored in Forwarded mode", Forwarded, "10.0.0.2:1234",
			map[string]string{"X-Forwarded-For": "192.0.2.77"}, "10.0.0.2"},
		{"Forwarded mode, right-most untrusted element", Forwarded, "10.0.0.2:1234",
			map[string]string{"Forwarded": "for=192.0.2.77, for=198.51.100.7;proto=https, for=10.0.0.9"}, "198.51.100.7"},
		{"X-Real-IP", XRealIP, "10.0.0.2:1234", map[string]string{"X-Real-IP": "198.51.100.7", "X-Forwarded-For": "192.0.2.77"}, "198.51.100.7"},
		{"X-Real-IP missing", XRealIP, "10.0.0.2:1234", map[string]string{"X-Forwarded-For": "192.0.2.77"}, "10.0.0.2"},
		{"X-Real-IP garbage", XRealIP, "10.0.0.2:1234", map[string]string{"X-Real-IP": "nope"}, "10.0.0.2"},
		{"CF-Connecting-IP", CFConnectingIP, "10.0.0.2:1234", map[string]string{"CF-Connecting-IP": "2001:db8::5", "X-Real-IP": "192.0.2.77"}, "2001:db8::5"},
		{"CF-Connecting-IP from an untrusted peer", CFConnectingIP, "203.0.113.5:1", map[string]string{"CF-Connecting-IP": "192.0.2.77"}, "203.0.113.5"},
		{"none reads no header", None, "10.0.0.2:1234", map[string]string{"X-Forwarded-For": "192.0.2.77", "Forwarded": "for=192.0.2.78"}, "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{}}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := New(trusted, tt.mode).ClientIP(r).String(); got != tt.want {
				t.Fatalf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestIsHTTPS(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		mode             Header
		peer, key, value string
		want             bool
	}{
		{XForwardedFor, "10.0.0.2:1", "X-Forwarded-Proto", "https", true},
		{XForwardedFor, "10.0.0.2:1", "X-Forwarded-Proto", "http", false},
		{XForwardedFor, "10.0.0.2:1", "X-Forwarded-Proto", "http, https", true}, // the nearest proxy's word
		{XForwardedFor, "10.0.0.2:1", "Forwarded", "for=1.2.3.4;proto=https", false},
		{Forwarded, "10.0.0.2:1", "Forwarded", "for=1.2.3.4;proto=https", true},
		{Forwarded, "10.0.0.2:1", "X-Forwarded-Proto", "https", false},
		{None, "10.0.0.2:1", "X-Forwarded-Proto", "https", false},
		{XForwardedFor, "203.0.113.5:1", "X-Forwarded-Proto", "https", false}, // untrusted peer
		{XForwardedFor, "10.0.0.2:1", "", "", false},
	}
	for _, tt := range tests {
		rv := New(trusted, tt.mode)
		r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{}}
		if tt.key != "" {
			r.Header.Set(tt.key, tt.value)
		}
		if got := rv.IsHTTPS(r); got != tt.want {
			t.Errorf("IsHTTPS(%s, %s %s=%s) = %v, want %v", tt.mode, tt.peer, tt.key, tt.value, got, tt.want)
		}
	}
}

func TestParseHeader(t *testing.T) {
	for in, want := range map[string]Header{"x-forwarded-for": XForwardedFor, "Forwarded": Forwarded,
		"X-REAL-IP": XRealIP, "cf-connecting-ip": CFConnectingIP, "none": None} {
		if got, err := ParseHeader(in); err != nil || got != want {
			t.Errorf("ParseHeader(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "X-Client-IP", "True-Client-IP", "X-Forwarded-For,Forwarded"} {
		if _, err := ParseHeader(in); err == nil {
			t.Errorf("ParseHeader(%q) accepted", in)
		}
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.2:1", "1.2.3.4, 10.0.0.9", `for="[2001:db8::1]:80";proto=https`, "198.51.100.7")
	f.Add("[fd00::1]:443", ",,,", "for=unknown", "")
	f.Add("10.0.0.2:1", "203.0.113.9, 10.1.1.1|10.0.0.7 ,10.2.2.2", "", "")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	f.Fuzz(func(t *testing.T, peer, xff, fwd, real string) {
		r := &http.Request{RemoteAddr: peer, Header: http.Header{ // '|' separates header lines
			"X-Forwarded-For": strings.Split(xff, "|"), "Forwarded": {fwd}, "X-Real-Ip": {real}, "Cf-Connecting-Ip": {real}}}
		for _, h := range Headers {
			rv := New(trusted, h)
			got := rv.ClientIP(r)
			if want := listClientIP(rv, r); got != want {
				t.Fatalf("%s: resolved to %s, but the hop list read whole gives %s", h, got, want)
			}
			p := Peer(r)
			if !p.IsValid() || !rv.isTrusted(p) || h == None {
				if got != p {
					t.Fatalf("%s: an untrusted peer %s was resolved to %s", h, p, got)
				}
				continue
			}
			if got.IsValid() && got.Is4In6() {
				t.Fatalf("%s: unmapped address expected, got %s", h, got)
			}
			_ = rv.IsHTTPS(r)
		}
	})
}

// listClientIP is ClientIP as it was written first, reading the whole hop list into a slice and
// then walking it from the right: the in-place walk must agree with it.
func listClientIP(rv *Resolver, r *http.Request) netip.Addr {
	peer := Peer(r)
	if rv.header == None || !peer.IsValid() || !rv.isTrusted(peer) {
		return peer
	}
	var hops []string
	switch rv.header {
	case XForwardedFor:
		hops = listValues(r.Header.Values(string(XForwardedFor)))
	case Forwarded:
		for _, e := range forwardedElements(r.Header) {
			hops = append(hops, e["for"])
		}
	default:
		return rv.ClientIP(r)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return peer
		}
		if !rv.isTrusted(a) {
			return a
		}
		peer = a
	}
	return peer
}
