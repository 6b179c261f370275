package ginsession

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// WithEncryption encrypts each session's data at rest with AES-GCM. keys
// are AES keys of 16, 24 or 32 bytes, newest first: the first encrypts,
// every one decrypts, so a key is rotated by putting the new one in front.
// A session sealed by an older key is sealed again under the first the next
// time a request uses it (one UPDATE); drop the old key once the sessions it
// wrote and nobody used since have expired: after the longest window in use
// (WithIdleTimeout, WithRememberTimeout, a session's own SetIdleTimeout),
// bounded by WithLifetime. Each
// row's ciphertext is bound to the row's ID, so the data of one session
// copied into another's row does not decrypt. The column stays text:
// "gse1.<key id>.<base64>". Default none: data is stored as the codec
// writes it. A row that no key opens is treated like undecodable data: its
// owner starts a new session.
func WithEncryption(keys ...[]byte) Option {
	return func(c *config) { c.keys, c.encrypt = keys, true }
}

// sealedPrefix starts every encrypted record.
const sealedPrefix = "gse1."

// A sealer encrypts and decrypts records with the configured keys.
type sealer struct {
	aeads []cipher.AEAD
	ids   []string // a short fingerprint of each key, to pick it on decrypt
}

func newSealer(keys [][]byte) (*sealer, error) {
	s := &sealer{}
	for i, key := range keys {
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: %w (use 16, 24 or 32 random bytes)", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: %w", i+1, err)
		}
		sum := sha256.Sum256(append([]byte("ginsession key id\x00"), key...))
		id := hex.EncodeToString(sum[:4])
		for j, other := range s.ids {
			if other == id {
				return nil, fmt.Errorf("encryption keys %d and %d are the same key", j+1, i+1)
			}
		}
		s.aeads, s.ids = append(s.aeads, aead), append(s.ids, id)
	}
	return s, nil
}

// seal encrypts plain for the row id with the first key.
func (s *sealer) seal(id string, plain []byte) []byte {
	aead := s.aeads[0]
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	rand.Read(buf) // never returns an error
	buf = aead.Seal(buf, buf, plain, []byte(id))
	out := make([]byte, 0, len(sealedPrefix)+len(s.ids[0])+1+base64.RawStdEncoding.EncodedLen(len(buf)))
	out = append(out, sealedPrefix...)
	out = append(out, s.ids[0]...)
	out = append(out, '.')
	return base64.RawStdEncoding.AppendEncode(out, buf)
}

var errNotSealed = errors.New("ginsession: stored session is not encrypted, or not by any of the keys given")

// open decrypts what seal wrote for the row id, with whichever key wrote it.
func (s *sealer) open(id string, data []byte) ([]byte, error) {
	rest, ok := strings.CutPrefix(string(data), sealedPrefix)
	if !ok {
		return nil, errNotSealed
	}
	keyID, payload, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, errNotSealed
	}
	for i, known := range s.ids {
		if known != keyID {
			continue
		}
		raw, err := base64.RawStdEncoding.DecodeString(payload)
		n := s.aeads[i].NonceSize()
		if err != nil || len(raw) < n {
			return nil, errNotSealed
		}
		plain, err := s.aeads[i].Open(nil, raw[:n], raw[n:], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("ginsession: stored session does not decrypt for its row (tampered, or moved from another row): %w", err)
		}
		return plain, nil
	}
	return nil, errNotSealed
}

// stale reports whether data, a sealed record, was sealed by a key other
// than the first.
func (s *sealer) stale(data []byte) bool {
	rest, ok := strings.CutPrefix(string(data), sealedPrefix)
	return ok && !strings.HasPrefix(rest, s.ids[0]+".")
}

// encodeData is what the row id's data column holds for r.
func (st *Store) encodeData(id string, r *record) ([]byte, error) {
	data, err := encodeRecord(st.cfg.codec, r)
	if err != nil || st.sealer == nil {
		return data, err
	}
	return st.sealer.seal(id, data), nil
}

// decodeData reads the row id's data column.
func (st *Store) decodeData(id string, data []byte) (record, error) {
	if st.sealer != nil {
		plain, err := st.sealer.open(id, data)
		if err != nil {
			return record{}, err
		}
		data = plain
	}
	return decodeRecord(st.cfg.codec, data)
}
