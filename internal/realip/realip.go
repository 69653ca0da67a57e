// Package realip finds who sent a request: the TCP peer, or — only when the peer is a
// configured trusted proxy — the address that proxy saw, read from X-Forwarded-For or
// Forwarded (RFC 7239). Headers from anyone else are ignored, so a client cannot choose its
// own address.
package realip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver resolves client addresses behind a set of trusted proxies.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that trusts forwarding headers from peers inside trusted.
func New(trusted []netip.Prefix) *Resolver { return &Resolver{trusted: trusted} }

func (rv *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range rv.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Peer returns the TCP peer address of r.
func Peer(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// ClientIP returns the address of the client: walking the forwarding chain from the right
// (the hops our own proxies appended), the first address that is not a trusted proxy.
func (rv *Resolver) ClientIP(r *http.Request) netip.Addr {
	peer := Peer(r)
	if !peer.IsValid() || !rv.isTrusted(peer) {
		return peer
	}
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			// Our proxies write real addresses; an unreadable hop means a broken chain,
			// so fall back to the last address we can vouch for.
			return peer
		}
		if !rv.isTrusted(a) {
			return a
		}
		peer = a
	}
	return peer
}

// IsHTTPS reports whether the client reached us over TLS: directly, or through a trusted proxy
// that says so (X-Forwarded-Proto or Forwarded proto=).
func (rv *Resolver) IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !rv.isTrusted(Peer(r)) {
		return false
	}
	if v := r.Header.Values("X-Forwarded-Proto"); len(v) > 0 {
		parts := strings.Split(v[len(v)-1], ",")
		return strings.EqualFold(strings.TrimSpace(parts[len(parts)-1]), "https")
	}
	for _, elem := range forwardedElements(r.Header) {
		if p, ok := elem["proto"]; ok {
			return strings.EqualFold(p, "https")
		}
	}
	return false
}

// forwardedFor returns the hop list, left (client) to right (nearest proxy). Forwarded wins
// over X-Forwarded-For when both are present.
func forwardedFor(h http.Header) []string {
	if elems := forwardedElements(h); len(elems) > 0 {
		var hops []string
		for _, e := range elems {
			hops = append(hops, e["for"])
		}
		return hops
	}
	var hops []string
	for _, line := range h.Values("X-Forwarded-For") {
		for _, f := range strings.Split(line, ",") {
			hops = append(hops, strings.TrimSpace(f))
		}
	}
	return hops
}

// forwardedElements parses RFC 7239 Forwarded headers into one map per element, left to right.
func forwardedElements(h http.Header) []map[string]string {
	var out []map[string]string
	for _, line := range h.Values("Forwarded") {
		for _, elem := range strings.Split(line, ",") {
			m := map[string]string{}
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok {
					continue
				}
				m[strings.ToLower(k)] = strings.Trim(v, `"`)
			}
			out = append(out, m)
		}
	}
	return out
}

// parseHop reads "192.0.2.1", "192.0.2.1:443", "2001:db8::1", or "[2001:db8::1]:443".
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}
