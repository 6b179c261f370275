package ginsession

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
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
//
// Turned on for a table that has sessions already, it signs nobody out: a
// row written before is read as it is and sealed the next time a request
// uses it, as a row under an older key is. Rows nobody uses stay readable
// in the table until they expire, so run Store.SealAll once every
// instance has the key (the store logs a warning at start-up while such
// rows remain).
func WithEncryption(keys ...[]byte) Option {
	return func(c *config) { c.keys, c.encrypt = keys, true }
}

// sealedPrefix starts every encrypted record.
const sealedPrefix = "gse1."

// A sealer encrypts and decrypts records with the configured keys.
type sealer struct {
	aeads   []cipher.AEAD
	ids     []string // a short fingerprint of each key, to pick it on decrypt
	current string   // what every record the first key seals starts with
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
	s.current = sealedPrefix + s.ids[0] + "."
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

var errNotSealed = errors.New("ginsession: stored session is encrypted by none of the keys given, or malformed")

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

// sealed reports whether data is an encrypted record, by whichever key.
func sealed(data []byte) bool { return bytes.HasPrefix(data, []byte(sealedPrefix)) }

// stale reports whether data was not sealed by the first key: by an older
// one, or not at all (written before encryption was turned on).
func (s *sealer) stale(data []byte) bool { return !bytes.HasPrefix(data, []byte(s.current)) }

// unseal returns the record that the row id's data holds: decrypted, or as
// it is when it was never sealed.
func (s *sealer) unseal(id string, data []byte) ([]byte, error) {
	if !sealed(data) {
		return data, nil
	}
	return s.open(id, data)
}

// encodeData is what the row id's data column holds for r, in a slice of
// its own that nothing else holds (encodeRecord relies on it).
func (st *Store) encodeData(id string, r *record) ([]byte, error) {
	data, err := encodeRecord(st.cfg.codec, r)
	if err != nil || st.sealer == nil {
		return data, err
	}
	return st.sealer.seal(id, data), nil
}

// decodeData reads the row id's data column. With encryption on, a row
// written before it was turned on is read too, rather than signing its
// owner out; stale reports it, so that the request seals it.
func (st *Store) decodeData(id string, data []byte) (record, error) {
	if st.sealer != nil {
		plain, err := st.sealer.unseal(id, data)
		if err != nil {
			return record{}, err
		}
		data = plain
	}
	return decodeRecord(st.cfg.codec, data)
}

// sealBatch bounds how many rows one round of SealAll reads, so that it
// holds little in memory and no statement of it runs long.
const sealBatch = 500

// errNoEncryption is what SealAll fails with on a store without keys.
var errNoEncryption = errors.New("ginsession: SealAll needs a store made WithEncryption")

// SealAll encrypts, under WithEncryption's first key, every row that is not
// encrypted by it: rows written before encryption was turned on, and rows
// sealed by an older key. Requests do the same for each session they use;
// SealAll does it for those nobody uses, which otherwise stay as they are
// in the table until they expire. Run it once after turning encryption on
// or rotating a key, when every instance of the application has the keys
// (an instance without them would write plaintext again).
//
// It goes through the table in batches of 500 rows, in the order of their
// IDs. Each row is rewritten in an UPDATE of its own that applies only if
// no request saved the session meanwhile (that save sealed it already), and
// changes neither the session's version nor its timestamps. A row that no
// key opens (sealed by a key no longer given, or altered) is left as it is,
// and the count of those is logged. SealAll returns how many rows it
// sealed; it stops early, with the context's error, when ctx ends. It fails
// with an error on a store without WithEncryption.
func (st *Store) SealAll(ctx context.Context) (int64, error) {
	if st.sealer == nil {
		return 0, errNoEncryption
	}
	table := st.quotedTable()
	db := st.db.WithContext(ctx).Set(gormWrite, true) // a replica may lag behind
	var sealedRows, unreadable int64
	for after := ""; ; {
		if err := ctx.Err(); err != nil {
			return sealedRows, fmt.Errorf("ginsession: seal: %w", err)
		}
		batch, err := st.unsealedRows(db, table, after)
		if err != nil {
			return sealedRows, fmt.Errorf("ginsession: seal: %w", err)
		}
		for _, r := range batch {
			after = r.ID
			plain, err := st.sealer.unseal(r.ID, []byte(r.Data))
			if err != nil {
				unreadable++
				continue
			}
			res := db.Exec("UPDATE "+table+" SET data = ? WHERE id = ? AND version = ?",
				string(st.sealer.seal(r.ID, plain)), r.ID, r.Version)
			if res.Error != nil {
				return sealedRows, fmt.Errorf("ginsession: seal: %w", res.Error)
			}
			sealedRows += res.RowsAffected
		}
		if len(batch) < sealBatch {
			break
		}
	}
	if unreadable > 0 {
		st.cfg.logger.WarnContext(ctx, "session rows that none of the keys opens were left as they are; their owners get new sessions",
			"rows", unreadable)
	}
	return sealedRows, nil
}

// unsealedRows reads, in the order of their IDs, the next batch of rows
// after the ID after that the first key did not seal.
func (st *Store) unsealedRows(db *gorm.DB, table, after string) ([]Model, error) {
	batch := make([]Model, 0, sealBatch)
	rows, err := db.Raw("SELECT id, data, version FROM "+table+" WHERE id > ? AND data NOT LIKE ? ORDER BY id LIMIT "+
		strconv.Itoa(sealBatch), after, st.sealer.current+"%").Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var m Model
		if err := rows.Scan(&m.ID, &m.Data, &m.Version); err != nil {
			return nil, err
		}
		batch = append(batch, m)
	}
	return batch, rows.Err()
}

// quotedTable is the session table's name as SQL writes it.
func (st *Store) quotedTable() string {
	var b strings.Builder
	st.db.Dialector.QuoteTo(&b, st.cfg.tableName)
	return b.String()
}

// unsealedCheckTimeout bounds warnUnsealed's query: on a large table whose
// rows are all sealed it reads every row to find none.
const unsealedCheckTimeout = 5 * time.Second

// warnUnsealed logs a warning when encryption is on and the table still
// holds a row written before it was turned on: such a row is sealed only
// when its session is next used, and a leaked table shows it until then.
// It costs one query that stops at the first such row. NewStore calls it.
func (st *Store) warnUnsealed(ctx context.Context) {
	if st.sealer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, unsealedCheckTimeout)
	defer cancel()
	var ids []string
	err := st.db.WithContext(ctx).Set(gormWrite, true).
		Raw("SELECT id FROM "+st.quotedTable()+" WHERE data NOT LIKE ? LIMIT 1", sealedPrefix+"%").Scan(&ids).Error
	switch {
	case err != nil:
		st.cfg.logger.WarnContext(ctx, "cannot tell whether session rows written before WithEncryption remain unencrypted; Store.SealAll encrypts any there are",
			"error", err)
	case len(ids) > 0:
		st.cfg.logger.WarnContext(ctx, "session rows written before WithEncryption remain unencrypted in the table until their sessions are next used or expire; Store.SealAll encrypts them all now",
			"table", st.cfg.tableName)
	}
}
