package account

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strings"

	"github.com/hellosvc/hello/internal/b64url"
)

// A session token is "<base64url(username)>.<base64url(32 random bytes)>". The random part is
// the secret; only its SHA-256 is stored. The username part routes the lookup to the one
// database (shard) that holds the session, and binds the token to its owner.
const tokenSecretLen = 32

func newToken(random io.Reader, username string) (token string, hash []byte, err error) {
	secret := make([]byte, tokenSecretLen)
	if _, err := io.ReadFull(random, secret); err != nil {
		return "", nil, fmt.Errorf("reading token randomness: %w", err)
	}
	sum := sha256.Sum256(secret)
	return b64url.Encode([]byte(username)) + "." + b64url.Encode(secret), sum[:], nil
}

// parseToken splits a token into its username and the hash of its secret. ok is false for
// anything that is not a well-formed token.
func parseToken(token string) (username string, hash []byte, ok bool) {
	u, s, found := strings.Cut(token, ".")
	if !found {
		return "", nil, false
	}
	// Canonical spellings only, so one session has one token text.
	name, ok := b64url.Decode(u, 0, b64url.EncodedLen(4*MaxUsernameLen))
	if !ok || len(name) == 0 {
		return "", nil, false
	}
	secret, ok := b64url.Decode(s, tokenSecretLen, 0)
	if !ok {
		return "", nil, false
	}
	sum := sha256.Sum256(secret)
	return string(name), sum[:], true
}
