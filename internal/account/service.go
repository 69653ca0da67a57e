package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
}

// NewService builds a Service. It hashes one throw-away password up front: logins for unknown
// names verify against that hash, so they cost the same time as logins for real names.
func NewService(ctx context.Context, o Options) (*Service, error) {
	if o.Store == nil || o.Hasher == nil {
		return nil, errors.New("account: Store and Hasher are required")
	}
	s := &Service{store: o.Store, hasher: o.Hasher, now: o.Now, random: o.Random, ttl: o.SessionTTL, log: o.Logger}
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
func (s *Service) Signup(ctx context.Context, username, password string) (Account, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return Account{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return Account{}, err
	}
	hash, err := s.hasher.Hash(ctx, password)
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
}

var errInvalidCredentials = Errorf(CodeInvalidCredentials, "invalid username or password")

// Login checks a username and password and opens a session. An unknown name and a wrong
// password give the same error after the same work (one argon2id verification).
func (s *Service) Login(ctx context.Context, username, password string) (LoginResult, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return LoginResult{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return LoginResult{}, err
	}
	acct, err := s.store.GetAccount(ctx, name)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return LoginResult{}, storeError("loading account", err)
	}
	hash := s.dummyHash
	if found {
		hash = acct.PasswordHash
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, hash)
	if err != nil {
		return LoginResult{}, err
	}
	if !found || !ok {
		return LoginResult{}, errInvalidCredentials
	}
	if rehash {
		s.upgradeHash(ctx, name, password)
	}
	token, tokenHash, err := newToken(s.random, name)
	if err != nil {
		return LoginResult{}, err
	}
	expires := s.now().Add(s.ttl).UTC().Truncate(time.Second)
	if err := s.store.CreateSession(ctx, Session{TokenHash: tokenHash, Username: name, ExpiresAt: expires}); err != nil {
		return LoginResult{}, storeError("creating session", err)
	}
	return LoginResult{Username: name, Token: token, ExpiresAt: expires}, nil
}

// upgradeHash stores a hash made with the current parameters. A failure only delays the
// upgrade to the next login, so it is logged, not returned.
func (s *Service) upgradeHash(ctx context.Context, name, password string) {
	hash, err := s.hasher.Hash(ctx, password)
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

// Ready reports whether the storage answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// storeError turns a storage failure into a coded error: 503 when the database is unreachable,
// 500 otherwise.
func storeError(op string, err error) error {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeStorageUnavailable, Message: "storage is temporarily unavailable, try again shortly", RetryAfter: time.Second, Err: fmt.Errorf("%s: %w", op, err)}
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("%s: %w", op, err)}
}
