package bench

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loadColumns are the columns ginsession's read selects with the store's
// defaults (ginsession's Store.loadColumns).
const loadColumns = "data, user_id, expires_at, version, flags, idle_timeout, deadline"

// BenchmarkLoadColumns measures what the columns of ginsession's read cost
// below the library: its SELECT of every column a request reads, against
// the same SELECT of the data column alone (what the floor reads), on one
// session row that ginsession wrote, through database/sql with the floor's
// prepared statements. No Gin, no library: the difference between the two
// is the driver's and database/sql's price of the extra columns.
func BenchmarkLoadColumns(b *testing.B) {
	eachServer(b, func(b *testing.B, srv server, dsn string) {
		t := srv.connect(b, dsn)
		t.fresh(b, ginsessionTable)
		r, err := ginsessionEngine(t)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok, why := newSession(r); !ok {
			b.Fatal(why)
		}
		var id string
		if err := t.db.Raw("SELECT id FROM " + ginsessionTable).Scan(&id).Error; err != nil || id == "" {
			b.Fatalf("the session row: %q, %v", id, err)
		}
		sqlDB, err := t.db.DB()
		if err != nil {
			b.Fatal(err)
		}
		where := " FROM " + ginsessionTable + " WHERE id = ? AND expires_at > ?"
		if srv.dialect == "postgres" {
			where = " FROM " + ginsessionTable + " WHERE id = $1 AND expires_at > $2"
		}
		for _, tc := range []struct {
			name string
			cols string
		}{{"data", "data"}, {"read", loadColumns}} {
			b.Run("columns="+tc.name, func(b *testing.B) {
				var st *sql.Stmt
				var err error
				if srv.prepare {
					if st, err = sqlDB.Prepare("SELECT " + tc.cols + where); err != nil {
						b.Fatal(err)
					}
					defer st.Close()
				}
				var (
					data                 []byte
					user                 string
					expires              time.Time
					version, flags, idle int64
					deadline             sql.NullTime
				)
				dest := []any{&data}
				if tc.cols == loadColumns {
					dest = append(dest, &user, &expires, &version, &flags, &idle, &deadline)
				}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					var rows *sql.Rows
					if st != nil {
						rows, err = st.QueryContext(ctx, id, time.Now().UTC())
					} else {
						rows, err = sqlDB.QueryContext(ctx, "SELECT "+tc.cols+where, id, time.Now().UTC())
					}
					if err != nil {
						b.Fatal(err)
					}
					if !rows.Next() {
						b.Fatalf("no row: %v", rows.Err())
					}
					if err := rows.Scan(dest...); err != nil {
						b.Fatal(err)
					}
					if err := rows.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

// BenchmarkInsertColumns measures what the columns of ginsession's new
// session cost below the library: its INSERT of a new anonymous session
// (ginsession's sInsertAnon: seven values, the client, policy and sign-in
// columns left to the table's defaults) and its INSERT of all fourteen
// columns (sInsert, which a session made with a policy or a client record
// takes), against the floor's INSERT of three into the floor's table,
// through database/sql with the floor's prepared statements. No Gin, no
// library: the differences are the price of the wider statement and row,
// at the driver and at the server.
func BenchmarkInsertColumns(b *testing.B) {
	eachServer(b, func(b *testing.B, srv server, dsn string) {
		t := srv.connect(b, dsn)
		t.fresh(b, ginsessionTable, floorTable)
		if _, err := ginsessionEngine(t); err != nil { // migrates the table
			b.Fatal(err)
		}
		for _, ddl := range floorSQL[srv.dialect].schema {
			if err := t.db.Exec(ddl).Error; err != nil {
				b.Fatal(err)
			}
		}
		sqlDB, err := t.db.DB()
		if err != nil {
			b.Fatal(err)
		}
		marks := func(n int) []string {
			m := make([]string, n)
			for i := range m {
				m[i] = "?"
				if srv.dialect == "postgres" {
					m[i] = "$" + strconv.Itoa(i+1)
				}
			}
			return m
		}
		wide := "INSERT INTO " + ginsessionTable + " (id, data, user_id, expires_at, created_at, updated_at, last_seen_at," +
			" user_agent, client_ip, version, signed_in_at, idle_timeout, deadline, flags) VALUES (" + strings.Join(marks(14), ", ") + ")"
		seven := marks(7) // the user ID is a literal '', as in sInsertAnon
		anon := "INSERT INTO " + ginsessionTable + " (id, data, user_id, expires_at, created_at, updated_at, last_seen_at, version)" +
			" VALUES (" + strings.Join(slices.Concat(seven[:2], []string{"''"}, seven[2:]), ", ") + ")"
		data := "\x01" + `{"n":"1"}` // about what a new session's data column holds
		var seq uint64               // across -count's runs, which share the tables
		for _, tc := range []struct {
			name, q string
			args    func(id string, now time.Time) []any
		}{
			{"floor", floorSQL[srv.dialect].insert, func(id string, now time.Time) []any {
				return []any{id, data, now.Add(24 * time.Hour)}
			}},
			{"anonymous", anon, func(id string, now time.Time) []any {
				return []any{id, data, now.Add(24 * time.Hour), now, now, now, int64(1)}
			}},
			{"all", wide, func(id string, now time.Time) []any {
				return []any{id, data, "", now.Add(24 * time.Hour), now, now, now, "", "", int64(1), nil, int64(0), nil, 0}
			}},
		} {
			b.Run("columns="+tc.name, func(b *testing.B) {
				var st *sql.Stmt
				if srv.prepare {
					if st, err = sqlDB.Prepare(tc.q); err != nil {
						b.Fatal(err)
					}
					defer st.Close()
				}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					seq++
					// Keys strewn over the index, as hashed tokens are.
					sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, seq))
					id := hex.EncodeToString(sum[:])
					now := time.Now().UTC()
					if st != nil {
						_, err = st.ExecContext(ctx, tc.args(id, now)...)
					} else {
						_, err = sqlDB.ExecContext(ctx, tc.q, tc.args(id, now)...)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}
