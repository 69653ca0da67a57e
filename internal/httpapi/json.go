package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/hellosvc/hello/internal/account"
)

// decodeJSON reads one JSON object into dst, strictly: JSON content type, at most
// MaxBodyBytes, valid UTF-8, no unknown fields, no trailing data.
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
