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

// newToken returns a fresh random token and the row ID it maps to, two
// parts of one string: one allocation for both, which live as long as the
// session does.
func newToken() (token, id string) {
	var raw [tokenBytes]byte
	rand.Read(raw[:]) // never returns an error; crashes the program if the OS has no randomness
	var both [tokenLen + idLen]byte
	tokenEncoding.Encode(both[:tokenLen], raw[:])
	putID(both[tokenLen:], raw[:])
	s := string(both[:])
	return s[:tokenLen], s[tokenLen:]
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
	var id [idLen]byte
	putID(id[:], raw)
	return string(id[:])
}

// putID writes the row ID of the token raw into dst, idLen bytes.
func putID(dst, raw []byte) {
	sum := sha256.Sum256(raw)
	hex.Encode(dst, sum[:])
}
