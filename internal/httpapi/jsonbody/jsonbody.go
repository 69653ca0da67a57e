// Package jsonbody decodes request bodies strictly: one JSON object whose keys are spelled
// exactly as the destination's json tags (encoding/json alone matches them case-insensitively),
// no key twice, no unknown key, nothing after the object. One body has one meaning, whoever
// reads it. Its errors are the domain's invalid_request.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/hellosvc/hello/internal/account"
)

// Strict decodes body, which is valid UTF-8, into the struct dst points to.
func Strict(body []byte, dst any) error {
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

// Flat decodes the common shape of a small body without encoding/json: an object of plain
// strings (no escapes, no control characters) under distinct keys, each one of names (at most
// 64), with JSON whitespace around the tokens and nothing after the object. The value of
// names[i] goes to values[i]. body is valid UTF-8. For those bodies Strict gives exactly the
// same values into a struct whose tags are names (FuzzFlatAsStrict checks it); for any other
// body Flat reports false with every value empty, and Strict decides, accepting or refusing it
// with its own error.
func Flat(body []byte, names []string, values []string) bool {
	if len(names) > 64 || len(values) != len(names) {
		return false
	}
	clear(values)
	if !flat(body, names, values) {
		clear(values)
		return false
	}
	return true
}

func flat(body []byte, names []string, values []string) bool {
	var seen uint64
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
			field := slices.Index(names, string(key))
			if field < 0 || seen&(1<<field) != 0 {
				return false
			}
			seen |= 1 << field
			values[field] = string(value)
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
	return skipSpace(body, i) == len(body)
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
