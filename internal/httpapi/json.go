package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hellosvc/hello/internal/account"
)

// decodeCredentials is decodeJSON for credentials, whose usual bodies it decodes without
// encoding/json (see decodeFlatStrings) and without c escaping to the heap.
func decodeCredentials(r *http.Request, c *credentials) error {
	var slow *credentials // the strict decoder's copy, allocated only when it is needed
	err := decodeBody(r, func(body []byte) error {
		if decodeFlatStrings(body, c) {
			return nil
		}
		slow = new(credentials)
		return decodeStrict(body, slow)
	})
	if err == nil && slow != nil {
		*c = *slow
	}
	return err
}

// decodeJSON reads one JSON object into dst, strictly: JSON content type, at most
// MaxBodyBytes, valid UTF-8, an object (not null), field names spelled exactly as dst's json
// tags (encoding/json alone matches them case-insensitively), no field twice, no unknown
// fields, no trailing data. One body has one meaning, whoever reads it.
func decodeJSON(r *http.Request, dst any) error {
	return decodeBody(r, func(body []byte) error { return decodeStrict(body, dst) })
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

// decodeStrict is decodeJSON's decoding of a body that is valid UTF-8.
func decodeStrict(body []byte, dst any) error {
	if err := checkKeys(body, fieldsOf(dst)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return account.Errorf(account.CodeInvalidRequest, "%s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return account.Errorf(account.CodeInvalidRequest, "request body must hold exactly one JSON object")
	}
	return nil
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

// decodeFlatStrings decodes the common shape of a credentials body without encoding/json: an
// object of plain strings (no escapes, no control characters) under distinct keys spelled
// exactly as the fields' tags, with JSON whitespace around the tokens and nothing after the
// object. body is valid UTF-8. For those bodies strict decoding gives exactly the same values
// (FuzzFlatStringsAsStrict checks it); for any other body this reports false and changes
// nothing, and the strict decoder decides, accepting or refusing it with its own error.
func decodeFlatStrings(body []byte, dst *credentials) bool {
	var c credentials
	var seen uint8
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			key, next, ok := plainString(body, i)
			if !ok {
				return false
			}
			i = skipSpace(body, next)
			if i == len(body) || body[i] != ':' {
				return false
			}
			value, next, ok := plainString(body, skipSpace(body, i+1))
			if !ok {
				return false
			}
			var field *string
			var bit uint8
			switch string(key) {
			case "username":
				field, bit = &c.Username, 1
			case "password":
				field, bit = &c.Password, 2
			case "captcha_id":
				field, bit = &c.CaptchaID, 4
			case "captcha_answer":
				field, bit = &c.CaptchaAnswer, 8
			case "captcha_token":
				field, bit = &c.CaptchaToken, 16
			default:
				return false
			}
			if seen&bit != 0 {
				return false
			}
			seen |= bit
			*field = string(value)
			i = skipSpace(body, next)
			if i == len(body) {
				return false
			}
			if body[i] == '}' {
				i++
				break
			}
			if body[i] != ',' {
				return false
			}
			i = skipSpace(body, i+1)
		}
	}
	if skipSpace(body, i) != len(body) {
		return false
	}
	*dst = c
	return true
}

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at b[i] that needs no unquoting (no backslash, no byte below
// 0x20) and returns its contents and the index after its closing quote.
func plainString(b []byte, i int) (s []byte, next int, ok bool) {
	if i == len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// isJSON accepts application/json and the application/*+json family.
func isJSON(mediaType string) bool {
	return mediaType == "application/json" ||
		strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json")
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "request body must be a JSON object"
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "request body must be a JSON object"
		}
		return fmt.Sprintf("field %q must be a %s", typ.Field, typ.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of body"
	}
	return "malformed JSON"
}

// checkKeys reads the top level of body: it must be an object whose keys are in fields, each
// at most once. Values are checked later, by the typed decode.
func checkKeys(body []byte, fields map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return account.Errorf(account.CodeInvalidRequest, "%s", describeJSONError(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return account.Errorf(account.CodeInvalidRequest, "request body must be a JSON object")
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return account.Errorf(account.CodeInvalidRequest, "%s", describeJSONError(err))
		}
		key, _ := tok.(string)
		switch {
		case !fields[key]:
			return account.Errorf(account.CodeInvalidRequest, "unknown field %q", key)
		case seen[key]:
			return account.Errorf(account.CodeInvalidRequest, "field %q appears twice", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return account.Errorf(account.CodeInvalidRequest, "%s", describeJSONError(err))
		}
	}
	return nil
}

var fieldCache sync.Map // reflect.Type → map[string]bool

// fieldsOf returns the JSON names of the struct dst points to.
func fieldsOf(dst any) map[string]bool {
	t := reflect.TypeOf(dst).Elem()
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]bool)
	}
	fields := map[string]bool{}
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			fields[name] = true
		}
	}
	fieldCache.Store(t, fields)
	return fields
}
