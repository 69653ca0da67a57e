package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/hellosvc/hello/internal/account"
)

// Transport-level error codes, known only to the HTTP layer.
const (
	codeRequestTooLarge      account.Code = "request_too_large"
	codeUnsupportedMediaType account.Code = "unsupported_media_type"
	codeNotFound             account.Code = "not_found"
	codeMethodNotAllowed     account.Code = "method_not_allowed"
	codeForbidden            account.Code = "forbidden"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[account.Code]int{
	account.CodeInvalidRequest:     http.StatusBadRequest,
	account.CodeWeakPassword:       http.StatusBadRequest,
	account.CodeUsernameTaken:      http.StatusConflict,
	account.CodeInvalidCredentials: http.StatusUnauthorized,
	account.CodeUnauthenticated:    http.StatusUnauthorized,
	account.CodeBusy:               http.StatusServiceUnavailable,
	account.CodeNotReady:           http.StatusServiceUnavailable,
	account.CodeStorageUnavailable: http.StatusServiceUnavailable,
	account.CodeInternal:           http.StatusInternalServerError,
	account.CodeRateLimited:        http.StatusTooManyRequests,
	account.CodeTooManyAttempts:    http.StatusTooManyRequests,
	account.CodeCaptchaRequired:    http.StatusForbidden,
	account.CodeCaptchaInvalid:     http.StatusForbidden,
	account.CodeCaptchaUnavailable: http.StatusServiceUnavailable,
	codeRequestTooLarge:            http.StatusRequestEntityTooLarge,
	codeUnsupportedMediaType:       http.StatusUnsupportedMediaType,
	codeNotFound:                   http.StatusNotFound,
	codeMethodNotAllowed:           http.StatusMethodNotAllowed,
	codeForbidden:                  http.StatusForbidden,
}

var (
	errNotFound         = account.Errorf(codeNotFound, "no such route")
	errMethodNotAllowed = account.Errorf(codeMethodNotAllowed, "method not allowed on this route")
	errTooLarge         = account.Errorf(codeRequestTooLarge, "request body is larger than 1 MiB")
)

// asCoded returns err as an *account.Error; anything without a code is an internal error.
func asCoded(err error) *account.Error {
	if e, ok := err.(*account.Error); ok { //nolint:errorlint // errors.As follows; this skips its reflection in the common case
		return e
	}
	var e *account.Error
	if errors.As(err, &e) {
		return e
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return errTooLarge
	}
	return &account.Error{Code: account.CodeInternal, Message: "internal error", Err: err}
}

func status(e *account.Error) int {
	if st, ok := statusOf[e.Code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// fail answers with the error: JSON under /api/ (and for probes), an HTML page elsewhere.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := asCoded(err)
	markRefused(r, e.Code)
	s.logError(r, e)
	if wantsHTML(r) {
		s.renderError(w, r, e)
		return
	}
	writeJSONError(w, e)
}

func (s *server) logError(r *http.Request, e *account.Error) {
	if _, refusal := refusalCodes[e.Code]; refusal {
		return // summarised by the RefusalLog
	}
	level := slog.LevelDebug
	if status(e) >= 500 {
		level = slog.LevelWarn
		if e.Code == account.CodeInternal {
			level = slog.LevelError
		}
	}
	s.log.Log(r.Context(), level, "request failed", "code", e.Code, "err", e)
}

// errorBody is the JSON of every error: {"error":"<code>","message":"..."}, with a fresh
// challenge when the refusal asks for a captcha.
type errorBody struct {
	Error   account.Code       `json:"error"`
	Message string             `json:"message"`
	Captcha *account.Challenge `json:"captcha,omitempty"`
}

func writeJSONError(w http.ResponseWriter, e *account.Error) {
	setRetryAfter(w, e)
	if e.Code == account.CodeUnauthenticated { // a 401 names the scheme it wants (RFC 9110)
		w.Header()["Www-Authenticate"] = []string{`Bearer realm="hello"`}
	}
	if _, refusal := refusalCodes[e.Code]; refusal && e.Captcha == nil {
		writeEncoded(w, status(e), refusalBodies.get(refusalKey{e.Code, e.Message}))
		return
	}
	writeJSON(w, status(e), errorBody{Error: e.Code, Message: e.Message, Captcha: e.Captcha})
}

// refusalKey is a refusal without a captcha: its JSON depends on nothing else.
type refusalKey struct {
	code account.Code
	msg  string
}

// refusalBodies holds the JSON of refusals without a captcha, encoded once: under a flood the
// same few (their messages are fixed strings) are written thousands of times per second.
var refusalBodies = readMostly[refusalKey, []byte]{max: 64, compute: func(k refusalKey) []byte {
	b, err := json.Marshal(errorBody{Error: k.code, Message: k.msg})
	if err != nil { // strings always encode
		panic(err)
	}
	return append(b, '\n') // as json.Encoder writes it
}}

func setRetryAfter(w http.ResponseWriter, e *account.Error) {
	if e.RetryAfter > 0 {
		w.Header()["Retry-After"] = []string{strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds())))} // canonical key
	}
}

var (
	jsonType = []string{"application/json"}
	noStore  = []string{"no-store"}
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noStore
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// writeEncoded is writeJSON for a body already encoded (with its final newline).
func writeEncoded(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noStore
	w.WriteHeader(code)
	_, _ = w.Write(body) // the client went away; nothing to do
}

// wantsHTML: everything outside /api/ and the probes is a page.
func wantsHTML(r *http.Request) bool {
	p := r.URL.Path
	return !strings.HasPrefix(p, "/api/") && p != "/api" && p != "/healthz" && p != "/readyz"
}
