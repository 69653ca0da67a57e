package account

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// A session token is "<base64url(username)>.<base64url(32 random bytes)>". The random part is
// the secret; only its SHA-256 is stored. The username part routes the lookup to the one
// database (shard) that holds the session, and binds the token to its owner.
const tokenSecretLen = 32

var tokenEnc = base64.RawURLEncoding

func newToken(random io.Reader, username string) (token string, hash []byte, err error) {
	secret := make([]byte, tokenSecretLen)
	if _, err := io.ReadFull(random, secret); err != nil {
		return "", nil, fmt.Errorf("reading token randomness: %w", err)
	}
	sum := sha256.Sum256(secret)
	return tokenEnc.EncodeToString([]byte(username)) + "." + tokenEnc.EncodeToString(secret), sum[:], nil
}

// parseToken splits a token into its username and the hash of its secret. ok is false for
// anything that is not a well-formed token.
func parseToken(token string) (username string, hash []byte, ok bool) {
	u, s, found := strings.Cut(token, ".")
	if !found || len(token) > 512 {
		return "", nil, false
	}
	name, err := tokenEnc.DecodeString(u)
	if err != nil || len(name) == 0 {
		return "", nil, false
	}
	secret, err := tokenEnc.DecodeString(s)
	if err != nil || len(secret) != tokenSecretLen {
		return "", nil, false
	}
	sum := sha256.Sum256(secret)
	return string(name), sum[:], true
}
