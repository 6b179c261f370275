// Command manual uses gin-contrib/sessions in ways the migration cannot
// finish by itself: each is reported, without a fix, with what to do by
// hand, next to the uses it does rewrite.
package main

import (
	"net/http"

	"github.com/gin-contrib/sessions" // want "import github.com/ginsession/ginsession in place of github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-gonic/gin"
)

type key int

func main() {
	r := gin.New()
	r.Use(sessions.SessionsMany([]string{"a", "b"}, cookie.NewStore([]byte("secret")))) // want `sessions.SessionsMany: ginsession has one session per request` `cookie.NewStore: ginsession has no separate store backends`
	withoutDB(r)
	r.GET("/a", func(c *gin.Context) {
		session := sessions.Default(c)
		session.Set(key(1), "x")                                                 // want `session.Set with a key of type key: ginsession's keys are strings`
		session.AddFlash("saved", "info")                                        // want `session.AddFlash with a named flash queue`
		c.String(http.StatusOK, "%s %d", session.ID(), session.Get("n").(int)+1) // want `session.ID\(\): ginsession keeps the session's ID secret` `session.Get\("n"\).\(int\) inside an expression`
	})
	r.GET("/b", func(c *gin.Context) {
		session := sessions.Default(c)
		switch v := session.Get("v").(type) { // want `a type switch on session.Get\("v"\)`
		case int:
			c.String(http.StatusOK, "int %d", v)
		}
		if session.Get("n") == 1 { // want `session.Get\("n"\) compared with a value`
			c.Status(http.StatusTeapot)
		}
		n := session.Get("n") // want `n := session.Get\("n"\) is used as int and in other ways`
		c.JSON(http.StatusOK, gin.H{"n": n, "m": n.(int)})
		session.Options(sessions.Options{Domain: "example.com", MaxAge: 60}) // want `session.Options with settings other than a constant MaxAge`
		save := session.Save                                                 // want `session.Save used as a method value`
		_ = save
	})
	r.GET("/c", func(c *gin.Context) {
		other := sessions.DefaultMany(c, "a") // want `sessions.DefaultMany: ginsession has one session per request`
		other.Set("k", "v")
		count := show(c, sessions.Default(c)) + 1
		c.String(http.StatusOK, "%d", count)
		logout(sessions.Default(c))
	})
	if err := r.Run("localhost:8080"); err != nil {
		panic(err)
	}
}

// withoutDB installs sessions kept in a cookie, in a function that has no
// database to move them to.
func withoutDB(r *gin.Engine) {
	store := cookie.NewStore([]byte("secret"))
	store.Options(sessions.Options{MaxAge: 3600})
	r.Use(sessions.Sessions("mysession", store)) // want `sessions.Sessions with the cookie store: ginsession keeps sessions in a database and there is no \*gorm.DB in scope here`
}

// show reads a session handed to it, and ends a browser session.
func show(c *gin.Context, session sessions.Session) int {
	count := session.Get("count").(int) // want `session.Get\("count"\).\(int\): ginsession.Get\[int\] decodes the stored value as int`
	if session.Get("user") != nil {     // want `session.Get\("user"\) != nil: ginsession's Has`
		c.Header("X-User", "yes")
	}
	session.Clear()
	session.Options(sessions.Options{MaxAge: 0}) // want `session.Options\(sessions.Options\{MaxAge: 0\}\): a cookie without Max-Age is ginsession's RememberMe\(false\)`
	defer session.Save()                         // want `session.Save\(\) with its error dropped`
	return count
}

// logout ends a session without clearing it first.
func logout(session sessions.Session) {
	session.Options(sessions.Options{MaxAge: -1}) // want `session.Options\(sessions.Options\{MaxAge: -1\}\): ginsession's Destroy`
}
