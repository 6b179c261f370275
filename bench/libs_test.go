package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/gormstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gin-contrib/sessions"
	sessionsgorm "github.com/gin-contrib/sessions/gorm"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
)

// A library under test gives a Gin engine with the four routes of the
// scenarios: /none (never touches the session), /read (reads "user"), and
// /write (sets "n" to the query's n), which also serves new sessions.
type library struct {
	name string
	// peer marks the libraries compared with ginsession. A peer that cannot
	// work on a server is skipped with the reason, which the report shows;
	// ginsession or the floor failing fails the benchmark.
	peer bool
	// tables are the tables the library creates, dropped before and after
	// each of its benchmarks.
	tables []string
	engine func(t *target) (*gin.Engine, error)
}

// ginsessionTable is ginsession's table in the benchmarks.
const ginsessionTable = "bench_ginsession"

var libraries = []library{
	{"ginsession", false, []string{ginsessionTable}, ginsessionEngine},
	{"gin-contrib", true, []string{"sessions"}, ginContribEngine},
	{"scs", true, []string{"sessions"}, func(t *target) (*gin.Engine, error) { return scsEngine(t, 0) }},
	{"scs-idle", true, []string{"sessions"}, func(t *target) (*gin.Engine, error) { return scsEngine(t, time.Hour) }},
	{"floor", false, []string{floorTable}, floorEngine},
}

// open gives the library's engine on fresh tables of t's server.
func (lib library) open(b *testing.B, t *target) *gin.Engine {
	t.fresh(b, lib.tables...)
	r, err := lib.engine(t)
	if err != nil {
		lib.fails(b, err.Error())
	}
	return r
}

// fails ends b because the library does not work on this server, with a
// message the report picks up: the benchmark's name, "fails:" and the
// reason, on one line.
func (lib library) fails(b *testing.B, why string) {
	b.Helper()
	why = strings.Join(strings.Fields(why), " ")
	if len(why) > 300 {
		why = why[:300] + "…"
	}
	if lib.peer {
		b.Skipf("%s fails: %s", b.Name(), why)
	}
	b.Fatalf("%s fails: %s", b.Name(), why)
}

func ginsessionEngine(t *target) (*gin.Engine, error) {
	st, err := ginsession.NewStore(t.db, ginsession.WithTableName(ginsessionTable), ginsession.WithCleanupInterval(0),
		// Only on failure: the error in the response, for the report.
		ginsession.WithErrorHandler(func(c *gin.Context, err error) {
			c.String(http.StatusInternalServerError, err.Error())
		}))
	if err != nil {
		return nil, err
	}
	r := gin.New()
	r.Use(st.Handler())
	r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.GET("/read", func(c *gin.Context) {
		user, _ := ginsession.Get[string](ginsession.Default(c), "user")
		c.String(http.StatusOK, user)
	})
	r.GET("/write", func(c *gin.Context) {
		s := ginsession.Default(c)
		n, _ := strconv.Atoi(c.Query("n"))
		s.Set("user", "alice")
		s.Set("n", n)
		c.String(http.StatusOK, "ok")
	})
	return r, nil
}

// ginContribEngine follows gin-contrib/sessions' README for its gorm
// backend: Save must be called before the response. Its store migrates its
// table ("sessions") and drops the error; a failed migration shows in the
// first request.
func ginContribEngine(t *target) (*gin.Engine, error) {
	store := sessionsgorm.NewStore(t.db, false, []byte("0123456789abcdef0123456789abcdef"))
	r := gin.New()
	r.Use(sessions.Sessions("session", store))
	r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.GET("/read", func(c *gin.Context) {
		user, _ := sessions.Default(c).Get("user").(string)
		c.String(http.StatusOK, user)
	})
	r.GET("/write", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := strconv.Atoi(c.Query("n"))
		s.Set("user", "alice")
		s.Set("n", n)
		if err := s.Save(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, "ok")
	})
	return r, nil
}

// scsEngine adapts scs's net/http middleware to Gin the way its users do:
// the handler chain runs inside LoadAndSave, writing through scs's writer.
// scs answers 500 with the error's text when it cannot load or save.
func scsEngine(t *target, idle time.Duration) (*gin.Engine, error) {
	store, err := gormstore.NewWithCleanupInterval(t.db, 0)
	if err != nil {
		return nil, err
	}
	sm := scs.New()
	sm.Store = store
	sm.IdleTimeout = idle
	sm.ErrorFunc = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	r := gin.New()
	r.Use(func(c *gin.Context) {
		sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			c.Request = req
			c.Writer = &scsWriter{ResponseWriter: c.Writer, w: w}
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
	})
	r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.GET("/read", func(c *gin.Context) {
		c.String(http.StatusOK, sm.GetString(c.Request.Context(), "user"))
	})
	r.GET("/write", func(c *gin.Context) {
		n, _ := strconv.Atoi(c.Query("n"))
		sm.Put(c.Request.Context(), "user", "alice")
		sm.Put(c.Request.Context(), "n", n)
		c.String(http.StatusOK, "ok")
	})
	return r, nil
}

// scsWriter sends Gin's writes through scs's ResponseWriter, which commits
// the session on the first one.
type scsWriter struct {
	gin.ResponseWriter
	w http.ResponseWriter
}

func (w *scsWriter) Write(p []byte) (int, error)       { return w.w.Write(p) }
func (w *scsWriter) WriteString(s string) (int, error) { return w.w.Write([]byte(s)) }
func (w *scsWriter) WriteHeaderNow() {
	if !w.Written() {
		w.w.WriteHeader(w.Status())
	}
}

// floorTable is the floor's table.
const floorTable = "floor_sessions"

// floorSQL is the floor's schema and statements in each dialect: the
// types each server has for the job (microsecond times on MariaDB, whose
// DATETIME otherwise drops them; a case-sensitive key there, as the tokens
// are), and each dialect's parameter markers.
var floorSQL = map[string]struct {
	schema           []string
	sel, upd, insert string
}{
	"sqlite": {
		schema: []string{
			`CREATE TABLE floor_sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at DATETIME NOT NULL)`,
			`CREATE INDEX floor_sessions_expires_at ON floor_sessions (expires_at)`,
		},
		sel:    `SELECT data FROM floor_sessions WHERE id = ? AND expires_at > ?`,
		upd:    `UPDATE floor_sessions SET data = ?, expires_at = ? WHERE id = ?`,
		insert: `INSERT INTO floor_sessions (id, data, expires_at) VALUES (?, ?, ?)`,
	},
	"postgres": {
		schema: []string{
			`CREATE TABLE floor_sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)`,
			`CREATE INDEX floor_sessions_expires_at ON floor_sessions (expires_at)`,
		},
		sel:    `SELECT data FROM floor_sessions WHERE id = $1 AND expires_at > $2`,
		upd:    `UPDATE floor_sessions SET data = $1, expires_at = $2 WHERE id = $3`,
		insert: `INSERT INTO floor_sessions (id, data, expires_at) VALUES ($1, $2, $3)`,
	},
	"mysql": {
		schema: []string{
			`CREATE TABLE floor_sessions (id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY, data LONGTEXT NOT NULL, expires_at DATETIME(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
			`CREATE INDEX floor_sessions_expires_at ON floor_sessions (expires_at)`,
		},
		sel:    `SELECT data FROM floor_sessions WHERE id = ? AND expires_at > ?`,
		upd:    `UPDATE floor_sessions SET data = ?, expires_at = ? WHERE id = ?`,
		insert: `INSERT INTO floor_sessions (id, data, expires_at) VALUES (?, ?, ?)`,
	},
}

// floorStmt runs one of the floor's statements: prepared once where the
// server takes that (server.prepare), else as a plain query, which pgx
// prepares and caches by itself on PostgreSQL and sends in the DSN's query
// mode behind PgBouncer.
type floorStmt struct {
	db *sql.DB
	q  string
	st *sql.Stmt
}

func (s floorStmt) queryRow(ctx context.Context, args ...any) *sql.Row {
	if s.st != nil {
		return s.st.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, s.q, args...)
}

func (s floorStmt) exec(ctx context.Context, args ...any) error {
	var err error
	if s.st != nil {
		_, err = s.st.ExecContext(ctx, args...)
	} else {
		_, err = s.db.ExecContext(ctx, s.q, args...)
	}
	return err
}

// floorEngine is the least a database-backed session can do: database/sql
// with prepared statements where they pay, one SELECT to read, an UPDATE to
// write, an INSERT to create, JSON data, no hashing, no concurrency
// control. Its table has the one index a session table cannot do without,
// on the expiry that cleanup deletes by.
func floorEngine(t *target) (*gin.Engine, error) {
	q, ok := floorSQL[t.srv.dialect]
	if !ok {
		return nil, fmt.Errorf("no floor for dialect %q", t.srv.dialect)
	}
	// A second instance on the same table (BenchmarkThroughput) finds the
	// schema made, as a second process of the same application would.
	if !t.db.Migrator().HasTable(floorTable) {
		for _, ddl := range q.schema {
			if err := t.db.Exec(ddl).Error; err != nil {
				return nil, err
			}
		}
	}
	sqlDB, err := t.db.DB()
	if err != nil {
		return nil, err
	}
	stmt := func(text string) (floorStmt, error) {
		s := floorStmt{db: sqlDB, q: text}
		if t.srv.prepare {
			s.st, err = sqlDB.Prepare(text)
		}
		return s, err
	}
	var sel, upd, ins floorStmt
	if sel, err = stmt(q.sel); err != nil {
		return nil, err
	}
	if upd, err = stmt(q.upd); err != nil {
		return nil, err
	}
	if ins, err = stmt(q.insert); err != nil {
		return nil, err
	}

	load := func(c *gin.Context) (id string, data map[string]any, ok bool) {
		ck, err := c.Request.Cookie("session")
		if err != nil {
			return "", nil, false
		}
		var raw []byte
		if sel.queryRow(c, ck.Value, time.Now().UTC()).Scan(&raw) != nil || json.Unmarshal(raw, &data) != nil {
			return "", nil, false
		}
		return ck.Value, data, true
	}
	r := gin.New()
	r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.GET("/read", func(c *gin.Context) {
		_, data, _ := load(c)
		user, _ := data["user"].(string)
		c.String(http.StatusOK, user)
	})
	r.GET("/write", func(c *gin.Context) {
		id, data, ok := load(c)
		if !ok {
			data = map[string]any{}
		}
		n, _ := strconv.Atoi(c.Query("n"))
		data["user"], data["n"] = "alice", n
		raw, _ := json.Marshal(data)
		expires := time.Now().Add(14 * 24 * time.Hour).UTC()
		var err error
		// The data goes as a string: pgx would send []byte as bytea, which
		// a TEXT column refuses.
		if ok {
			err = upd.exec(c, string(raw), expires, id)
		} else {
			var tok [32]byte
			_, _ = rand.Read(tok[:])
			id = base64.RawURLEncoding.EncodeToString(tok[:])
			err = ins.exec(c, id, string(raw), expires)
			http.SetCookie(c.Writer, &http.Cookie{Name: "session", Value: id, Path: "/", HttpOnly: true, MaxAge: 14 * 24 * 3600})
		}
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, "ok")
	})
	return r, nil
}
