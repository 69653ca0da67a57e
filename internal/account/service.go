package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"
)

// Service is the account domain: sign up, log in, log out, and who-am-I. The JSON API and the
// HTML forms both call it, so every rule is enforced in one place.
type Service struct {
	store     Store
	hasher    *Hasher
	now       func() time.Time
	random    io.Reader
	ttl       time.Duration
	log       *slog.Logger
	guard     Guard
	dummyHash string
}

// Options are the dependencies of a Service. Store and Hasher are required.
type Options struct {
	Store      Store
	Hasher     *Hasher
	SessionTTL time.Duration    // default 24h
	Now        func() time.Time // default time.Now
	Random     io.Reader        // default crypto/rand
	Logger     *slog.Logger     // default slog.Default()
	Guard      Guard            // default: admits everything
}

// NewService builds a Service. It hashes one throw-away password up front: logins for unknown
// names verify against that hash, so they cost the same time as logins for real names.
func NewService(ctx context.Context, o Options) (*Service, error) {
	if o.Store == nil || o.Hasher == nil {
		return nil, errors.New("account: Store and Hasher are required")
	}
	s := &Service{store: o.Store, hasher: o.Hasher, now: o.Now, random: o.Random, ttl: o.SessionTTL, log: o.Logger, guard: o.Guard}
	if s.guard == nil {
		s.guard = openGuard{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.random == nil {
		s.random = rand.Reader
	}
	if s.ttl <= 0 {
		s.ttl = 24 * time.Hour
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	dummy, err := o.Hasher.Hash(ctx, "dummy password for unknown users")
	if err != nil {
		return nil, fmt.Errorf("account: preparing dummy hash: %w", err)
	}
	s.dummyHash = dummy
	return s, nil
}

// Signup creates an account and returns it.
func (s *Service) Signup(ctx context.Context, r Attempt) (Account, error) {
	name, err := NormalizeUsername(r.Username)
	if err != nil {
		return Account{}, err
	}
	if err := validateSignup(name, r.Password); err != nil {
		return Account{}, err
	}
	if err := s.guard.CheckSignup(ctx, Attempt{Username: name, Sender: r.Sender, Captcha: r.Captcha}); err != nil {
		return Account{}, err
	}
	hash, err := s.hasher.HashAs(ctx, HashClean, r.Password) // it passed a captcha
	if err != nil {
		return Account{}, err
	}
	a := Account{Username: name, PasswordHash: hash, CreatedAt: s.now().UTC()}
	if err := s.store.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, ErrConflict) {
			return Account{}, Errorf(CodeUsernameTaken, "this username is taken")
		}
		return Account{}, storeError("creating account", err)
	}
	return a, nil
}

// LoginResult is a new session.
type LoginResult struct {
	Username  string
	Token     string
	ExpiresAt time.Time
	Device    string // a device cookie value to set, or ""
}

var errInvalidCredentials = Errorf(CodeInvalidCredentials, "invalid username or password")

// Login checks a username and password and opens a session. The guard decides first, before
// any hash or storage read. An unknown name and a wrong password give the same error after the
// same work (one argon2id verification).
func (s *Service) Login(ctx context.Context, r Attempt) (LoginResult, error) {
	name, err := NormalizeUsername(r.Username)
	if err != nil {
		return LoginResult{}, err
	}
	if err := validateLoginPassword(r.Password); err != nil {
		return LoginResult{}, err
	}
	// A device cookie counts only while the account still lists its device (not forgotten,
	// not dropped as the oldest): read only for a cookie whose signature is valid, and the
	// account read is reused for the password check.
	var known *Account
	device, trusted := "", false
	if r.Device != "" {
		if id, ok := s.guard.Device(r.Device, name); ok {
			a, err := s.store.GetAccount(ctx, name)
			switch {
			case err == nil:
				known, device, trusted = &a, id, slices.Contains(a.Devices, id)
			case !errors.Is(err, ErrNotFound):
				return LoginResult{}, storeError("loading account", err)
			}
		}
	}
	attempt := Attempt{Username: name, Password: r.Password, Sender: r.Sender, Captcha: r.Captcha}
	if trusted {
		attempt.Device = r.Device
	}
	ticket, err := s.guard.BeginLogin(ctx, attempt)
	if err != nil {
		return LoginResult{}, err
	}
	res, ok, err := s.verifyAndOpen(ctx, ticket, name, r.Password, known)
	switch {
	case CodeOf(err) == CodeBusy:
		ticket.Shed(ctx)
		return LoginResult{}, err
	case err != nil:
		ticket.Abandon(ctx)
		return LoginResult{}, err
	case !ok:
		ticket.Failed(ctx)
		return LoginResult{}, errInvalidCredentials
	}
	res.Device = ticket.Succeeded(ctx)
	s.rememberDevice(ctx, name, res.Device, device, known)
	return res, nil
}

// rememberDevice lists the device of a freshly issued cookie as the account's newest (the
// store keeps MaxDevices). A failure only costs the device its trust at the next login.
func (s *Service) rememberDevice(ctx context.Context, name, cookie, presented string, known *Account) {
	id, ok := s.guard.Device(cookie, name)
	if !ok {
		return
	}
	if known != nil && id == presented && len(known.Devices) > 0 && known.Devices[len(known.Devices)-1] == id {
		return // already the newest: no write
	}
	if err := s.store.AddDevice(ctx, name, id); err != nil {
		s.log.WarnContext(ctx, "remembering a trusted device", "err", err)
	}
}

// ForgetDevices ends the trust of the device whose cookie is presented, or of every device of
// the session's account when all is set. A session is required.
func (s *Service) ForgetDevices(ctx context.Context, token, deviceCookie string, all bool) error {
	sess, err := s.session(ctx, token)
	if err != nil {
		return err
	}
	id := ""
	if !all {
		var ok bool
		if id, ok = s.guard.Device(deviceCookie, sess.Username); !ok {
			return nil // this browser holds no device of the account: nothing to forget
		}
	}
	if err := s.store.ForgetDevices(ctx, sess.Username, id); err != nil && !errors.Is(err, ErrNotFound) {
		return storeError("forgetting devices", err)
	}
	return nil
}

// verifyAndOpen checks the password and, when it is right, opens a session. ok is false for an
// unknown name or a wrong password; err is set when no verdict could be reached. known is the
// account when it was already read.
func (s *Service) verifyAndOpen(ctx context.Context, ticket LoginTicket, name, password string, known *Account) (LoginResult, bool, error) {
	class := ticket.Class()
	found, ok, rehash, err := s.check(ctx, ticket, name, password, known)
	if err != nil {
		return LoginResult{}, false, err
	}
	if !found || !ok {
		return LoginResult{}, false, nil
	}
	if rehash {
		s.upgradeHash(ctx, class, name, password)
	}
	token, tokenHash, err := newToken(s.random, name)
	if err != nil {
		return LoginResult{}, false, err
	}
	expires := s.now().Add(s.ttl).UTC().Truncate(time.Second)
	if err := s.store.CreateSession(ctx, Session{TokenHash: tokenHash, Username: name, ExpiresAt: expires}); err != nil {
		return LoginResult{}, false, storeError("creating session", err)
	}
	return LoginResult{Username: name, Token: token, ExpiresAt: expires}, true, nil
}

// check reads the account and verifies password against its hash (a dummy hash for an unknown
// name) in one hashing slot of the ticket's class, taken before the read: a request that the
// scheduler sheds costs no storage read (under a flood those reads were a third of the CPU).
// A ticket that waited for its slot is rechecked: an attack that started while it waited asks
// it for a captcha instead of a hash.
func (s *Service) check(ctx context.Context, ticket LoginTicket, name, password string, known *Account) (found, ok, rehash bool, err error) {
	release, waited, err := s.hasher.slots.acquireQueued(ctx, ticket.Class())
	if err != nil {
		return false, false, false, err
	}
	defer release()
	if waited {
		if err := ticket.Recheck(ctx); err != nil {
			return false, false, false, err
		}
	}
	acct := known
	if acct == nil {
		a, err := s.store.GetAccount(ctx, name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return false, false, false, storeError("loading account", err)
		}
		if err == nil {
			acct = &a
		}
	}
	hash := s.dummyHash
	if acct != nil {
		hash = acct.PasswordHash
	}
	ok, rehash, err = s.hasher.verify(password, hash)
	return acct != nil, ok, rehash, err
}

// upgradeHash stores a hash made with the current parameters. A failure only delays the
// upgrade to the next login, so it is logged, not returned.
func (s *Service) upgradeHash(ctx context.Context, class HashClass, name, password string) {
	hash, err := s.hasher.HashAs(ctx, class, password)
	if err == nil {
		err = s.store.UpdatePasswordHash(ctx, name, hash)
	}
	if err != nil {
		s.log.WarnContext(ctx, "password hash upgrade failed", "err", err)
	}
}

var errUnauthenticated = Errorf(CodeUnauthenticated, "a valid session token is required")

// Me returns the account that owns the session token.
func (s *Service) Me(ctx context.Context, token string) (Account, error) {
	sess, err := s.session(ctx, token)
	if err != nil {
		return Account{}, err
	}
	return Account{Username: sess.Username}, nil
}

// Logout ends the session the token belongs to.
func (s *Service) Logout(ctx context.Context, token string) error {
	sess, err := s.session(ctx, token)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSession(ctx, sess.Username, sess.TokenHash); err != nil && !errors.Is(err, ErrNotFound) {
		return storeError("deleting session", err)
	}
	return nil
}

func (s *Service) session(ctx context.Context, token string) (Session, error) {
	name, hash, ok := parseToken(token)
	if !ok {
		return Session{}, errUnauthenticated
	}
	sess, err := s.store.GetSession(ctx, name, hash)
	if errors.Is(err, ErrNotFound) {
		return Session{}, errUnauthenticated
	}
	if err != nil {
		return Session{}, storeError("loading session", err)
	}
	if !s.now().Before(sess.ExpiresAt) {
		return Session{}, errUnauthenticated
	}
	return sess, nil
}

// PurgeExpiredSessions deletes expired sessions; serve runs it periodically.
func (s *Service) PurgeExpiredSessions(ctx context.Context) (int64, error) {
	return s.store.DeleteExpiredSessions(ctx, s.now())
}

// storeError turns a storage failure into a coded error: 503 when the database is unreachable,
// 500 otherwise.
func storeError(op string, err error) error {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeStorageUnavailable, Message: "storage is temporarily unavailable, try again shortly", RetryAfter: time.Second, Err: fmt.Errorf("%s: %w", op, err)}
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("%s: %w", op, err)}
}
