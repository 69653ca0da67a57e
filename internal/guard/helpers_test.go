package guard_test

import (
	"errors"
	"io"
	"log/slog"

	"github.com/hellosvc/hello/internal/account"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func asError(err error, target **account.Error) bool { return errors.As(err, target) }
