// Package realip finds who sent a request: the TCP peer, or — only when the peer is a
// configured trusted proxy — the address that proxy saw, read from exactly one configured
// header (HELLO_CLIENT_IP_HEADER). Headers from anyone else, and every other header, are
// ignored, so a client cannot choose its own address.
package realip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Header names the one header a trusted proxy writes the client address to.
type Header string

// The headers a Resolver can read. Which one is right depends on the proxy in front:
// the AWS ALB and ingress-nginx append X-Forwarded-For, Envoy/Traefik can write Forwarded,
// nginx's `proxy_set_header X-Real-IP $remote_addr` sets X-Real-IP, Cloudflare sets
// CF-Connecting-IP. None reads no header: the TCP peer is the client.
const (
	XForwardedFor  Header = "X-Forwarded-For"
	Forwarded      Header = "Forwarded"
	XRealIP        Header = "X-Real-IP"
	CFConnectingIP Header = "CF-Connecting-IP"
	None           Header = "none"
)

// Headers lists the accepted values of HELLO_CLIENT_IP_HEADER, the default first.
var Headers = []Header{XForwardedFor, Forwarded, XRealIP, CFConnectingIP, None}

// ParseHeader reads a HELLO_CLIENT_IP_HEADER value (header names are case-insensitive).
func ParseHeader(s string) (Header, error) {
	for _, h := range Headers {
		if strings.EqualFold(s, string(h)) {
			return h, nil
		}
	}
	return "", fmt.Errorf("must be one of X-Forwarded-For, Forwarded, X-Real-IP, CF-Connecting-IP, none")
}

// Resolver resolves client addresses behind a set of trusted proxies.
type Resolver struct {
	trusted []netip.Prefix
	header  Header
}

// New returns a Resolver that reads header (never another) from peers inside trusted.
func New(trusted []netip.Prefix, header Header) *Resolver {
	return &Resolver{trusted: trusted, header: header}
}

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

// ClientIP returns the address of the client. From an untrusted peer, or with header None,
// that is the peer. Behind a trusted proxy: for the single-value headers, their (last) value;
// for the hop lists, walking from the right (the hops our own proxies appended), the first
// address that is not a trusted proxy. A missing or unreadable value gives the proxy's address.
func (rv *Resolver) ClientIP(r *http.Request) netip.Addr {
	peer := Peer(r)
	if rv.header == None || !peer.IsValid() || !rv.isTrusted(peer) {
		return peer
	}
	switch rv.header {
	case XForwardedFor:
		// Walked in place from the right: a botnet's every request passes here, and the
		// hops left of the first untrusted one are never read.
		lines := r.Header.Values(string(XForwardedFor))
		for i := len(lines) - 1; i >= 0; i-- {
			line := lines[i]
			for {
				comma := strings.LastIndexByte(line, ',')
				var stop bool
				if peer, stop = rv.hop(peer, strings.TrimSpace(line[comma+1:])); stop {
					return peer
				}
				if comma < 0 {
					break
				}
				line = line[:comma]
			}
		}
		return peer
	case Forwarded:
		elems := forwardedElements(r.Header)
		for i := len(elems) - 1; i >= 0; i-- {
			var stop bool
			if peer, stop = rv.hop(peer, elems[i]["for"]); stop {
				return peer
			}
		}
		return peer
	default: // one address, set (not appended) by the proxy: its last value if repeated
		v := r.Header.Values(string(rv.header))
		if len(v) == 0 {
			return peer
		}
		a, ok := parseHop(strings.TrimSpace(v[len(v)-1]))
		if !ok {
			return peer
		}
		return a
	}
}

// hop reads one hop of a list, walking from the right, where last is the address the hop to
// its right resolved to (the TCP peer for the rightmost hop). It returns the client and true
// when the walk ends here, or the hop's address and false to go on left.
func (rv *Resolver) hop(last netip.Addr, s string) (netip.Addr, bool) {
	a, ok := parseHop(s)
	if !ok {
		// Our proxies write real addresses; an unreadable hop means a broken chain,
		// so fall back to the last address we can vouch for.
		return last, true
	}
	return a, !rv.isTrusted(a)
}

// IsHTTPS reports whether the client reached us over TLS: directly, or through a trusted proxy
// that says so (proto= with Forwarded, X-Forwarded-Proto with the other headers).
func (rv *Resolver) IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if rv.header == None || !rv.isTrusted(Peer(r)) {
		return false
	}
	if rv.header == Forwarded { // proto= of the element the nearest proxy appended
		elems := forwardedElements(r.Header)
		return len(elems) > 0 && strings.EqualFold(elems[len(elems)-1]["proto"], "https")
	}
	v := listValues(r.Header.Values("X-Forwarded-Proto"))
	return len(v) > 0 && strings.EqualFold(v[len(v)-1], "https")
}

// listValues splits comma-separated header lines into trimmed values, left to right.
func listValues(lines []string) []string {
	var out []string
	for _, line := range lines {
		for _, f := range strings.Split(line, ",") {
			out = append(out, strings.TrimSpace(f))
		}
	}
	return out
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
