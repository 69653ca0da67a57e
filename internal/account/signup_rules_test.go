package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/account"
)

// A look-alike of an existing name is refused at signup, not created beside it.
func TestSignupRefusesLookAlikeNames(t *testing.T) {
	ctx := context.Background()
	svc, st := newService(t, fast, &clock{t: time.Now()})
	if _, err := svc.Signup(ctx, account.Attempt{Username: "alice", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	for _, spoof := range []string{"\u0430lice", "\u0430l\u0456ce", "al\u03b9ce", "alice\u0661"} {
		_, err := svc.Signup(ctx, account.Attempt{Username: spoof, Password: "correct horse"})
		if account.CodeOf(err) != account.CodeInvalidRequest || !strings.Contains(err.Error(), "could pass for another name") {
			t.Errorf("signup %q = %v, want invalid_request about look-alikes", spoof, err)
		}
		if _, err := st.GetAccount(ctx, spoof); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("account %q exists after a refused signup (%v)", spoof, err)
		}
	}
}

// NIST SP 800-63B: a new password on the common/breached list is refused with a reason.
func TestSignupRefusesCommonPasswords(t *testing.T) {
	ctx := context.Background()
	svc, st := newService(t, fast, &clock{t: time.Now()})
	for _, pw := range []string{"password1234", "Password1234", "iloveyou123", "qwertyuiop"} {
		_, err := svc.Signup(ctx, account.Attempt{Username: "dora", Password: pw})
		var e *account.Error
		if !errors.As(err, &e) || e.Code != account.CodeWeakPassword || !strings.Contains(e.Message, "choose another") {
			t.Errorf("signup with %q = %v, want weak_password telling to choose another", pw, err)
		}
	}
	if _, err := st.GetAccount(ctx, "dora"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("account exists after refused signups (%v)", err)
	}
	// Too short as hashed: e + combining accent is one character once normalised.
	if _, err := svc.Signup(ctx, account.Attempt{Username: "dora", Password: strings.Repeat("e\u0301", 4)}); account.CodeOf(err) != account.CodeInvalidRequest {
		t.Errorf("signup with 4 characters typed as 8 code points = %v, want invalid_request", err)
	}
	if _, err := svc.Signup(ctx, account.Attempt{Username: "dora", Password: "reindeer quarry tulip"}); err != nil {
		t.Fatalf("signup with an uncommon password: %v", err)
	}
}

// Rules for new accounts do not lock out accounts made before them: a common password, a
// password long enough only as typed, and a mixed-script name all still log in.
func TestOlderAccountsStillLogIn(t *testing.T) {
	ctx := context.Background()
	svc, st := newService(t, fast, &clock{t: time.Now()})
	h := account.NewHasher(fast, 1, time.Second)
	for _, a := range []struct{ name, password string }{
		{"bob", "password1234"},
		{"carol", strings.Repeat("e\u0301", 4)},
		{"p\u0430ul", "correct horse"},
	} {
		hash, err := h.Hash(ctx, a.password)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateAccount(ctx, account.Account{Username: a.name, PasswordHash: hash, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Login(ctx, account.Attempt{Username: a.name, Password: a.password}); err != nil {
			t.Errorf("login of %q made under the old rules: %v", a.name, err)
		}
	}
}
