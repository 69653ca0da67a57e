// Package storetest is the conformance suite every account.Store must pass: the same tests run
// against SQLite, one PostgreSQL database and sharded PostgreSQL.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/account"
)

// Run runs the suite. newStore returns an empty, migrated store; the suite closes it.
func Run(t *testing.T, newStore func(t *testing.T) account.Store) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	t.Run("account round trip", func(t *testing.T) {
		s := newStore(t)
		a := account.Account{Username: "alice", PasswordHash: "$argon2id$x", CreatedAt: now}
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		got, err := s.GetAccount(ctx, "alice")
		if err != nil {
			t.Fatalf("GetAccount: %v", err)
		}
		if got.Username != a.Username || got.PasswordHash != a.PasswordHash || !got.CreatedAt.Equal(now) {
			t.Fatalf("GetAccount = %+v, want %+v", got, a)
		}
	})

	t.Run("trusted devices: newest kept, forgotten one by one or all, concurrent adds kept", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateAccount(ctx, account.Account{Username: "dora", PasswordHash: "h", CreatedAt: now}))
		if a, err := s.GetAccount(ctx, "dora"); err != nil || len(a.Devices) != 0 {
			t.Fatalf("new account devices = %v, %v", a.Devices, err)
		}
		var wg sync.WaitGroup
		for i := range account.MaxDevices + 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				must(t, s.AddDevice(ctx, "dora", fmt.Sprintf("%032x", i)))
			}()
		}
		wg.Wait()
		a, err := s.GetAccount(ctx, "dora")
		must(t, err)
		if len(a.Devices) != account.MaxDevices {
			t.Fatalf("after %d concurrent adds: %d devices, want %d", account.MaxDevices+5, len(a.Devices), account.MaxDevices)
		}
		seen := a.Devices[1]
		must(t, s.AddDevice(ctx, "dora", "newest"))
		must(t, s.AddDevice(ctx, "dora", seen)) // seen again: becomes the newest
		a, err = s.GetAccount(ctx, "dora")
		must(t, err)
		if n := len(a.Devices); n != account.MaxDevices || a.Devices[n-1] != seen || a.Devices[n-2] != "newest" {
			t.Fatalf("devices = %v", a.Devices)
		}
		must(t, s.ForgetDevices(ctx, "dora", "newest"))
		a, _ = s.GetAccount(ctx, "dora")
		if len(a.Devices) != account.MaxDevices-1 || slices.Contains(a.Devices, "newest") {
			t.Fatalf("after forgetting one: %v", a.Devices)
		}
		must(t, s.ForgetDevices(ctx, "dora", ""))
		if a, _ := s.GetAccount(ctx, "dora"); len(a.Devices) != 0 {
			t.Fatalf("after forgetting all: %v", a.Devices)
		}
		if err := s.AddDevice(ctx, "nobody", "x"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("AddDevice for a missing account = %v, want ErrNotFound", err)
		}
	})

	t.Run("duplicate account is a conflict and keeps the first", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateAccount(ctx, account.Account{Username: "bob", PasswordHash: "first", CreatedAt: now}))
		err := s.CreateAccount(ctx, account.Account{Username: "bob", PasswordHash: "second", CreatedAt: now})
		if !errors.Is(err, account.ErrConflict) {
			t.Fatalf("second CreateAccount = %v, want ErrConflict", err)
		}
		got, err := s.GetAccount(ctx, "bob")
		must(t, err)
		if got.PasswordHash != "first" {
			t.Fatalf("hash = %q, want the first account's", got.PasswordHash)
		}
	})

	t.Run("concurrent signups of one name: exactly one wins", func(t *testing.T) {
		s := newStore(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.CreateAccount(ctx, account.Account{Username: "carol", PasswordHash: fmt.Sprint(i), CreatedAt: now})
			}()
		}
		wg.Wait()
		close(errs)
		wins := 0
		for err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, account.ErrConflict):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d signups succeeded, want 1", wins)
		}
	})

	t.Run("missing account", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.GetAccount(ctx, "nobody"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("GetAccount = %v, want ErrNotFound", err)
		}
		if err := s.UpdatePasswordHash(ctx, "nobody", "h"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("UpdatePasswordHash = %v, want ErrNotFound", err)
		}
	})

	t.Run("password hash update", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateAccount(ctx, account.Account{Username: "dave", PasswordHash: "old", CreatedAt: now}))
		must(t, s.UpdatePasswordHash(ctx, "dave", "new"))
		got, err := s.GetAccount(ctx, "dave")
		must(t, err)
		if got.PasswordHash != "new" {
			t.Fatalf("hash = %q, want new", got.PasswordHash)
		}
	})

	t.Run("sessions", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateAccount(ctx, account.Account{Username: "erin", PasswordHash: "h", CreatedAt: now}))
		h1, h2 := hash("one"), hash("two")
		must(t, s.CreateSession(ctx, account.Session{Username: "erin", TokenHash: h1, ExpiresAt: now.Add(time.Hour)}))
		must(t, s.CreateSession(ctx, account.Session{Username: "erin", TokenHash: h2, ExpiresAt: now.Add(-time.Hour)}))

		got, err := s.GetSession(ctx, "erin", h1)
		must(t, err)
		if got.Username != "erin" || !bytes.Equal(got.TokenHash, h1) || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
			t.Fatalf("GetSession = %+v", got)
		}
		if _, err := s.GetSession(ctx, "frank", h1); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("session under another name = %v, want ErrNotFound", err)
		}
		n, err := s.DeleteExpiredSessions(ctx, now)
		must(t, err)
		if n != 1 {
			t.Fatalf("DeleteExpiredSessions removed %d, want 1", n)
		}
		if _, err := s.GetSession(ctx, "erin", h2); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("expired session still there: %v", err)
		}
		must(t, s.DeleteSession(ctx, "erin", h1))
		if _, err := s.GetSession(ctx, "erin", h1); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("deleted session still there: %v", err)
		}
		if err := s.DeleteSession(ctx, "erin", h1); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("second DeleteSession = %v, want ErrNotFound", err)
		}
	})
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
