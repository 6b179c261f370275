// Command edges holds the less common shapes of gin-contrib/sessions code,
// for the analyzer's golden test: a renamed import, store options, a store
// the migration cannot follow, and names already taken.
package main

import (
	"net/http"
	"time"

	gs "github.com/gin-contrib/sessions" // want "import github.com/ginsession/ginsession in place of github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	gormsessions "github.com/gin-contrib/sessions/gorm"
	"github.com/gin-gonic/gin"
	"gorm.io/gorm"
)

// storeVar is a store the migration cannot follow: it is not local.
var storeVar = cookie.NewStore([]byte("secret")) // want `cookie.NewStore: ginsession has no separate store backends`

func main() {
	r := gin.New()
	var db *gorm.DB
	inline(r, db)
	storeOptions(r, db, 3600)
	refusedOptions(r, db)
	negativeAge(r, db)
	twoDatabases(r, db, db)
	shadowed(r, db)
	_ = escapes(r, db)
	r.Use(gs.Sessions("global", storeVar)) // want `sessions.Sessions: the store is not a local variable made by a gin-contrib/sessions backend`
	r.GET("/", handler)
	r.GET("/values", values)
	r.GET("/bye", logoutThenSet)
	r.GET("/bye2", logoutThenSave)
	_ = r.Run("localhost:8080")
}

func inline(r *gin.Engine, db *gorm.DB) {
	r.Use(gs.Sessions("inline", gormsessions.NewStore(db, false))) // want `sessions.Sessions\("inline", ...\): ginsession.New keeps the sessions in the same database`
}

func storeOptions(r *gin.Engine, db *gorm.DB, maxAge int) {
	store := gormsessions.NewStore(db, true, []byte("secret"))
	store.Options(gs.Options{Path: "/app", Domain: "example.com", MaxAge: maxAge, Secure: true, SameSite: http.SameSiteStrictMode, HttpOnly: true})
	r.Use(gs.Sessions("options", store)) // want `sessions.Sessions\("options", ...\)`
}

func refusedOptions(r *gin.Engine, db *gorm.DB) {
	store := gormsessions.NewStore(db, true)
	store.Options(gs.Options{HttpOnly: false}) // want `HttpOnly other than true: ginsession's cookie is always HttpOnly`
	r.Use(gs.Sessions("scripts", store))       // want `sessions.Sessions\("scripts", ...\): not rewritten, since the store's options cannot all be carried over`
}

func negativeAge(r *gin.Engine, db *gorm.DB) {
	store := gormsessions.NewStore(db, true)
	store.Options(gs.Options{MaxAge: -1}) // want `a store-wide MaxAge of -1 deletes every cookie at once`
	r.Use(gs.Sessions("gone", store))     // want `sessions.Sessions\("gone", ...\): not rewritten`
}

func twoDatabases(r *gin.Engine, a, b *gorm.DB) {
	r.Use(gs.Sessions("which", cookie.NewStore([]byte("secret")))) // want `there is more than one \*gorm.DB in scope here \(a, b\); choose the one to keep them in`
}

func shadowed(r *gin.Engine, db *gorm.DB) {
	store := gormsessions.NewStore(db, true)
	{
		db := "not the database"
		_ = db
		r.Use(gs.Sessions("shadowed", store)) // want `sessions.Sessions: the \*gorm.DB given to the gorm store is not in scope here`
	}
}

func escapes(r *gin.Engine, db *gorm.DB) gs.Store { // want `gs.Store: ginsession has no pluggable store`
	store := gormsessions.NewStore(db, true) // want `gormsessions.NewStore: ginsession has no separate store backends`
	r.Use(gs.Sessions("escapes", store))     // want `sessions.Sessions: the store variable store has other uses \(reported\)`
	return store                             // want `the store variable store is used here as well as in sessions.Sessions`
}

func handler(c *gin.Context) {
	s := gs.Default(c)
	vOK := "taken"
	v := s.Get("v") // want `v := session.Get\("v"\) is read as string: ginsession.Get\[string\] decodes the stored value as string, and vOK2 says`
	if name, ok := v.(string); ok && v != nil {
		c.String(http.StatusOK, "%s %s", name, vOK)
	}
	var n int
	n = s.Get("n").(int) // want `session.Get\("n"\).\(int\): ginsession.Get\[int\]`
	c.String(http.StatusOK, "%d", n)
	if err := saveIt(s); err != nil {
		c.Status(http.StatusInternalServerError)
	}
	time.Sleep(0)
}

func saveIt(s gs.Session) error {
	return s.Save()
}

// secret has no exported fields: JSON would keep it as {}.
type secret struct{ token string }

func values(c *gin.Context) {
	s := gs.Default(c)
	var name = s.Get("name").(string) // want `session.Get\("name"\).\(string\): ginsession.Get\[string\]`
	total := 1
	total += s.Get("n").(int)            // want `session.Get\("n"\).\(int\) inside an expression`
	s.Set("secret", secret{token: name}) // want `session.Set of a secret: ginsession keeps values as JSON, and it has no exported fields`
	s.AddFlash(func() {})                // want `session.AddFlash of a func\(\): ginsession keeps values as JSON, and JSON cannot encode it`
	s.Set("ok", struct{ Name string }{name})
	c.String(http.StatusOK, "%d", total)
}

func logoutThenSet(c *gin.Context) {
	s := gs.Default(c)
	s.Clear() // want `session.Clear\(\) with Options\{MaxAge: -1\}, then more changes to the session`
	s.Options(gs.Options{MaxAge: -1})
	s.Set("after", true)
}

func logoutThenSave(c *gin.Context) {
	s := gs.Default(c)
	s.Clear()
	s.Set("between", true)
	s.Options(gs.Options{MaxAge: -1}) // want `session.Options\(sessions.Options\{MaxAge: -1\}\): ginsession's Destroy`
	if err := s.Save(); err != nil {
		c.Status(http.StatusInternalServerError)
	}
}
