package realip

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	rv := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	tests := []struct {
		name   string
		peer   string
		header map[string]string
		want   string
	}{
		{"direct client", "203.0.113.5:1234", nil, "203.0.113.5"},
		{"spoofed header from an untrusted peer is ignored", "203.0.113.5:1234", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy", "10.0.0.2:1234", map[string]string{"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"},
		{"right-most untrusted wins over a forged left part", "10.0.0.2:1234", map[string]string{"X-Forwarded-For": "1.2.3.4, 198.51.100.7, 10.0.0.9"}, "198.51.100.7"},
		{"all hops trusted", "10.0.0.2:1234", map[string]string{"X-Forwarded-For": "10.1.1.1"}, "10.1.1.1"},
		{"no header from a trusted proxy", "10.0.0.2:1234", nil, "10.0.0.2"},
		{"garbage hop falls back to the proxy", "10.0.0.2:1234", map[string]string{"X-Forwarded-For": "1.2.3.4, not-an-ip"}, "10.0.0.2"},
		{"Forwarded header", "10.0.0.2:1234", map[string]string{"Forwarded": `for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"IPv6 peer", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.5]:443", nil, "203.0.113.5"},
		{"IPv6 trusted proxy", "[fd00::1]:443", map[string]string{"X-Forwarded-For": "2001:db8::99"}, "2001:db8::99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{}}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := rv.ClientIP(r).String(); got != tt.want {
				t.Fatalf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestIsHTTPS(t *testing.T) {
	rv := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	tests := []struct {
		peer, key, value string
		want             bool
	}{
		{"10.0.0.2:1", "X-Forwarded-Proto", "https", true},
		{"10.0.0.2:1", "X-Forwarded-Proto", "http", false},
		{"10.0.0.2:1", "Forwarded", "for=1.2.3.4;proto=https", true},
		{"203.0.113.5:1", "X-Forwarded-Proto", "https", false}, // untrusted peer
		{"10.0.0.2:1", "", "", false},
	}
	for _, tt := range tests {
		r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{}}
		if tt.key != "" {
			r.Header.Set(tt.key, tt.value)
		}
		if got := rv.IsHTTPS(r); got != tt.want {
			t.Errorf("IsHTTPS(%s %s=%s) = %v, want %v", tt.peer, tt.key, tt.value, got, tt.want)
		}
	}
}
