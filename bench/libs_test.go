package bench

import (
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/alexedwards/scs/gormstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gin-contrib/sessions"
	sessionsgorm "github.com/gin-contrib/sessions/gorm"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"gorm.io/gorm"
)

// A library under test gives a Gin engine with the four routes of the
// scenarios: /none (never touches the session), /read (reads "user"), and
// /write (sets "n" to the query's n), which also serves new sessions.
type library struct {
	name   string
	engine func(b *testing.B, db *gorm.DB) *gin.Engine
}

var libraries = []library{
	{"ginsession", ginsessionEngine},
	{"gin-contrib", ginContribEngine},
	{"scs", func(b *testing.B, db *gorm.DB) *gin.Engine { return scsEngine(b, db, 0) }},
	{"scs-idle", func(b *testing.B, db *gorm.DB) *gin.Engine { return scsEngine(b, db, time.Hour) }},
	{"floor", floorEngine},
}

func ginsessionEngine(b *testing.B, db *gorm.DB) *gin.Engine {
	st, err := ginsession.NewStore(db, ginsession.WithCleanupInterval(0))
	if err != nil {
		b.Fatal(err)
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
	return r
}

// ginContribEngine follows gin-contrib/sessions' README for its gorm
// backend: Save must be called before the response.
func ginContribEngine(b *testing.B, db *gorm.DB) *gin.Engine {
	store := sessionsgorm.NewStore(db, false, []byte("0123456789abcdef0123456789abcdef"))
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
	return r
}

// scsEngine adapts scs's net/http middleware to Gin the way its users do:
// the handler chain runs inside LoadAndSave, writing through scs's writer.
func scsEngine(b *testing.B, db *gorm.DB, idle time.Duration) *gin.Engine {
	store, err := gormstore.NewWithCleanupInterval(db, 0)
	if err != nil {
		b.Fatal(err)
	}
	sm := scs.New()
	sm.Store = store
	sm.IdleTimeout = idle
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
	return r
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

// floorEngine is the least a database-backed session can do: prepared
// statements on database/sql, one SELECT to read, an UPDATE to write, an
// INSERT to create, JSON data, no hashing, no concurrency control. Its table
// has the one index a session table cannot do without, on the expiry that
// cleanup deletes by.
func floorEngine(b *testing.B, db *gorm.DB) *gin.Engine {
	if err := db.Exec(`CREATE TABLE floor_sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at DATETIME NOT NULL)`).Error; err != nil {
		b.Fatal(err)
	}
	if err := db.Exec(`CREATE INDEX floor_sessions_expires_at ON floor_sessions (expires_at)`).Error; err != nil {
		b.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		b.Fatal(err)
	}
	prepare := func(q string) *sql.Stmt {
		st, err := sqlDB.Prepare(q)
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	sel := prepare(`SELECT data FROM floor_sessions WHERE id = ? AND expires_at > ?`)
	upd := prepare(`UPDATE floor_sessions SET data = ?, expires_at = ? WHERE id = ?`)
	ins := prepare(`INSERT INTO floor_sessions (id, data, expires_at) VALUES (?, ?, ?)`)

	load := func(c *gin.Context) (id string, data map[string]any, ok bool) {
		ck, err := c.Request.Cookie("session")
		if err != nil {
			return "", nil, false
		}
		var raw []byte
		if sel.QueryRowContext(c, ck.Value, time.Now().UTC()).Scan(&raw) != nil || json.Unmarshal(raw, &data) != nil {
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
		if ok {
			_, err = upd.ExecContext(c, raw, expires, id)
		} else {
			var t [32]byte
			_, _ = rand.Read(t[:])
			id = base64.RawURLEncoding.EncodeToString(t[:])
			_, err = ins.ExecContext(c, id, raw, expires)
			http.SetCookie(c.Writer, &http.Cookie{Name: "session", Value: id, Path: "/", HttpOnly: true, MaxAge: 14 * 24 * 3600})
		}
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, "ok")
	})
	return r
}
