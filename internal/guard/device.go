package guard

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/hellosvc/hello/internal/b64url"
)

// Device cookies (OWASP "slow down online guessing attacks with device cookies"): after a
// successful login the browser gets a cookie naming a random device id, bound to the user name
// by an HMAC. Attempts that present one are counted against that device's own budget, so an
// attacker hammering the name cannot lock its owner out of the devices they already use.
//
// Layout (base64url): device id (16) | issued, Unix seconds (8) | HMAC-SHA256(key, name 0 id issued)[:16].
const (
	deviceIDLen     = 16
	deviceCookieLen = deviceIDLen + 8 + 16
	// DeviceCookieTTL is how long a device stays trusted after its last successful login.
	DeviceCookieTTL = 365 * 24 * time.Hour
)

func (g *Guard) deviceMAC(name string, body []byte) []byte {
	m := g.macs.device.get()
	defer g.macs.device.put(m)
	m.msg = append(append(append(m.msg, name...), 0), body...)
	return append([]byte(nil), m.mac()[:16]...)
}

// parseDevice returns the device id of a valid, unexpired cookie issued for name.
func (g *Guard) parseDevice(cookie, name string) ([]byte, bool) {
	raw, ok := b64url.Decode(cookie, deviceCookieLen, 0) // one spelling per cookie
	if !ok {
		return nil, false
	}
	body, mac := raw[:deviceIDLen+8], raw[deviceIDLen+8:]
	if !hmac.Equal(mac, g.deviceMAC(name, body)) {
		return nil, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(body[deviceIDLen:])), 0)
	if g.now().Sub(issued) > DeviceCookieTTL {
		return nil, false
	}
	return body[:deviceIDLen], true
}

// issueDevice returns a cookie for name: the same device id when the presented cookie is
// valid for name (refreshed), a new one otherwise.
func (g *Guard) issueDevice(name, presented string) string {
	id, ok := g.parseDevice(presented, name)
	if !ok {
		id = make([]byte, deviceIDLen)
		_, _ = rand.Read(id) // crypto/rand.Read never fails on supported platforms
	}
	body := make([]byte, deviceIDLen+8, deviceCookieLen)
	copy(body, id)
	binary.BigEndian.PutUint64(body[deviceIDLen:], uint64(g.now().Unix()))
	return b64url.Encode(append(body, g.deviceMAC(name, body)...))
}

func deviceKey(id []byte) string { return "d:" + hex.EncodeToString(id) }

// Device implements account.Guard: the hex id of a valid, unexpired cookie issued for name.
func (g *Guard) Device(cookie, name string) (string, bool) {
	id, ok := g.parseDevice(cookie, name)
	if !ok {
		return "", false
	}
	return hex.EncodeToString(id), true
}
