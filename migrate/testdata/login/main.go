// Command login signs a user in and out with sessions that
// gin-contrib/sessions keeps in the database through its gorm store, shows
// flash messages, and remembers the user for a week when asked to.
package main

import (
	"net/http"

	"github.com/gin-contrib/sessions" // want "import github.com/ginsession/ginsession in place of github.com/gin-contrib/sessions"
	gormsessions "github.com/gin-contrib/sessions/gorm"
	"github.com/gin-gonic/gin"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

func main() {
	db, err := gorm.Open(sqlite.Open("login.db"), &gorm.Config{})
	if err != nil {
		panic(err)
	}
	if err := newRouter(db).Run("localhost:8080"); err != nil {
		panic(err)
	}
}

// week is how long "remember me" keeps a user signed in, in seconds.
const week = 7 * 24 * 60 * 60

// newRouter builds the application on db, which keeps the sessions.
func newRouter(db *gorm.DB) *gin.Engine {
	store := gormsessions.NewStore(db, true, []byte("secret"))
	store.Options(sessions.Options{Path: "/", MaxAge: 3600, HttpOnly: true})
	r := gin.New()
	r.Use(sessions.Sessions("mysession", store)) // want `sessions.Sessions\("mysession", ...\): ginsession.New keeps the sessions in the same database`

	r.GET("/login", func(c *gin.Context) {
		session := sessions.Default(c)
		flashes := session.Flashes()
		session.Save() // want `session.Save\(\) with its error dropped: removed`
		c.JSON(http.StatusOK, gin.H{"flashes": flashes})
	})
	r.POST("/login", func(c *gin.Context) {
		session := sessions.Default(c)
		user := c.PostForm("user")
		if user == "" || c.PostForm("password") != "wonderland" {
			session.AddFlash("wrong user or password")
			if err := session.Save(); err != nil {
				c.String(http.StatusInternalServerError, "saving the session: %v", err)
				return
			}
			c.Redirect(http.StatusSeeOther, "/login")
			return
		}
		session.Set("user", user)
		if c.PostForm("remember") == "on" {
			session.Options(sessions.Options{Path: "/", MaxAge: week, HttpOnly: true}) // want `session.Options\(sessions.Options\{MaxAge: 604800\}\): the session's own idle timeout`
		}
		session.AddFlash("welcome, " + user)
		if err := session.Save(); err != nil {
			c.String(http.StatusInternalServerError, "saving the session: %v", err)
			return
		}
		c.Redirect(http.StatusSeeOther, "/me")
	})
	r.GET("/me", func(c *gin.Context) {
		session := sessions.Default(c)
		user, ok := session.Get("user").(string) // want `session.Get\("user"\).\(string\) with ok`
		if !ok {
			c.String(http.StatusUnauthorized, "not signed in")
			return
		}
		flashes := session.Flashes()
		session.Save() // want `session.Save\(\) with its error dropped: removed`
		c.JSON(http.StatusOK, gin.H{"user": user, "flashes": flashes})
	})
	r.POST("/logout", func(c *gin.Context) {
		session := sessions.Default(c)
		session.Clear() // want `session.Clear\(\) with Options\{MaxAge: -1\}: ginsession's Destroy`
		session.Options(sessions.Options{MaxAge: -1})
		if err := session.Save(); err != nil {
			c.String(http.StatusInternalServerError, "saving the session: %v", err)
			return
		}
		c.Redirect(http.StatusSeeOther, "/login")
	})
	return r
}
