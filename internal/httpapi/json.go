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

// decodeJSON reads one JSON object into dst, strictly: JSON content type, at most
// MaxBodyBytes, valid UTF-8, an object (not null), field names spelled exactly as dst's json
// tags (encoding/json alone matches them case-insensitively), no field twice, no unknown
// fields, no trailing data. One body has one meaning, whoever reads it.
func decodeJSON(r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !isJSON(mt) {
		return account.Errorf(codeUnsupportedMediaType, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(r.Body)
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
