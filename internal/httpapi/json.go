package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/httpapi/jsonbody"
)

// credentialFields are credentials' json tags, in the order of its fields.
var credentialFields = [...]string{"username", "password", "captcha_id", "captcha_answer", "captcha_token"}

// decodeCredentials is decodeJSON for credentials, whose usual bodies it decodes without
// encoding/json (see jsonbody.Flat) and without c escaping to the heap.
func decodeCredentials(r *http.Request, c *credentials) error {
	var slow *credentials // the strict decoder's copy, allocated only when it is needed
	err := decodeBody(r, func(body []byte) error {
		var v [len(credentialFields)]string
		if jsonbody.Flat(body, credentialFields[:], v[:]) {
			*c = credentials{Username: v[0], Password: v[1], CaptchaID: v[2], CaptchaAnswer: v[3], CaptchaToken: v[4]}
			return nil
		}
		slow = new(credentials)
		return jsonbody.Strict(body, slow)
	})
	if err == nil && slow != nil {
		*c = *slow
	}
	return err
}

// decodeJSON reads one JSON object into dst: JSON content type, at most MaxBodyBytes, valid
// UTF-8, then decoded strictly (jsonbody.Strict).
func decodeJSON(r *http.Request, dst any) error {
	return decodeBody(r, func(body []byte) error { return jsonbody.Strict(body, dst) })
}

// decodeBody checks the content type, reads the body (at most MaxBodyBytes, valid UTF-8) and
// hands it to decode. The body is reused once decodeBody returns: decode keeps copies.
func decodeBody(r *http.Request, decode func(body []byte) error) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" { // the usual spelling needs no parsing
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !isJSON(mt) {
			return account.Errorf(codeUnsupportedMediaType, "Content-Type must be application/json")
		}
	}
	buf := bodyBuffers.Get().(*[]byte)
	defer putBodyBuffer(buf)
	body, err := readBody(r.Body, (*buf)[:0])
	*buf = body
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return errTooLarge
		}
		return account.Errorf(account.CodeInvalidRequest, "could not read the request body")
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD; refuse it instead, so a
	// password is never changed behind its owner's back.
	if !utf8.Valid(body) {
		return account.Errorf(account.CodeInvalidRequest, "request body is not valid UTF-8")
	}
	return decode(body)
}

// bodyBuffers are reused for request bodies: logins under a flood come by the thousand per
// second, and each would otherwise grow a fresh buffer.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func putBodyBuffer(b *[]byte) {
	if cap(*b) <= 64<<10 { // a rare large body is left to the collector
		clear(*b) // no password stays behind in a pooled buffer
		*b = (*b)[:0]
		bodyBuffers.Put(b)
	}
}

// readBody appends all of r to buf, as io.ReadAll does.
func readBody(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// isJSON accepts application/json and the application/*+json family.
func isJSON(mediaType string) bool {
	return mediaType == "application/json" ||
		strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json")
}
