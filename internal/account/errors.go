package account

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, machine-readable error code. Clients and other parts of the system rely on
// these strings: add new ones, never rename.
type Code string

const (
	CodeInvalidRequest     Code = "invalid_request"
	CodeUsernameTaken      Code = "username_taken"
	CodeInvalidCredentials Code = "invalid_credentials"
	CodeUnauthenticated    Code = "unauthenticated"
	CodeBusy               Code = "busy"
	CodeNotReady           Code = "not_ready"
	CodeStorageUnavailable Code = "storage_unavailable"
	CodeInternal           Code = "internal_error"
	CodeWeakPassword       Code = "weak_password"
)

// Error is the one error type that carries a code to the edge of the system. It is created where
// the problem is known; httpapi translates the code to a status in a single table.
type Error struct {
	Code    Code
	Message string
	// RetryAfter, when positive, tells the client how long to wait before trying again.
	RetryAfter time.Duration
	// Captcha is a fresh challenge for the client to solve (captcha_required/captcha_invalid).
	Captcha *Challenge
	// Err is the underlying cause, logged but never shown to clients.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted client-facing message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code carried by err, or CodeInternal for errors that carry none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Sentinel errors returned by Store implementations.
var (
	// ErrNotFound: no such account or session.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the account already exists.
	ErrConflict = errors.New("already exists")
	// ErrUnavailable: the storage holding this record cannot be reached right now. Stores wrap
	// it so callers answer 503 storage_unavailable instead of 500.
	ErrUnavailable = errors.New("storage unavailable")
)

// Challenge is what a client needs to show a captcha (package captcha issues them).
type Challenge struct {
	ID        string    `json:"captcha_id,omitempty"`
	ImageURL  string    `json:"image_url,omitempty"`
	AudioURL  string    `json:"audio_url,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	// With a third-party provider: which widget to show, and its public site key.
	Provider string `json:"provider,omitempty"`
	SiteKey  string `json:"site_key,omitempty"`
}
