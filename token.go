package ginsession

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// A token is what the cookie carries: tokenBytes random bytes, base64url
// without padding. The table stores only idFromToken(token), so a copy of the
// table cannot be replayed as cookies.
const (
	tokenBytes = 32
	tokenLen   = 43 // base64.RawURLEncoding.EncodedLen(tokenBytes)
	idLen      = 2 * sha256.Size
)

var tokenEncoding = base64.RawURLEncoding.Strict()

// newToken returns a fresh random token and the row ID it maps to.
func newToken() (token, id string) {
	var raw [tokenBytes]byte
	rand.Read(raw[:]) // never returns an error; crashes the program if the OS has no randomness
	return tokenEncoding.EncodeToString(raw[:]), hashToken(raw[:])
}

// parseToken reports whether v is a well-formed token and, if so, the row ID
// it maps to. A malformed value costs no query.
func parseToken(v string) (id string, ok bool) {
	if len(v) != tokenLen {
		return "", false
	}
	var src [tokenLen]byte
	copy(src[:], v)
	var raw [tokenBytes]byte
	n, err := tokenEncoding.Decode(raw[:], src[:])
	if err != nil || n != tokenBytes {
		return "", false
	}
	return hashToken(raw[:]), true
}

func hashToken(raw []byte) string {
	sum := sha256.Sum256(raw)
	var id [idLen]byte
	hex.Encode(id[:], sum[:])
	return string(id[:])
}
