// Command counter counts a visitor's requests in a session that
// gin-contrib/sessions keeps in a cookie, and greets the visitor by the name
// they gave. Its database holds the application's own data; the sessions
// are not in it.
package main

import (
	"net/http"

	"github.com/gin-contrib/sessions" // want "import github.com/ginsession/ginsession in place of github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-gonic/gin"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

func main() {
	db, err := gorm.Open(sqlite.Open("counter.db"), &gorm.Config{})
	if err != nil {
		panic(err)
	}
	if err := newRouter(db).Run("localhost:8080"); err != nil {
		panic(err)
	}
}

// newRouter builds the application on db.
func newRouter(db *gorm.DB) *gin.Engine {
	r := gin.New()
	store := cookie.NewStore([]byte("secret"))
	r.Use(sessions.Sessions("mysession", store)) // want `sessions.Sessions\("mysession", ...\): the cookie store kept sessions outside any database; ginsession.New keeps them in db`

	r.GET("/incr", func(c *gin.Context) {
		session := sessions.Default(c)
		var count int
		v := session.Get("count") // want `v := session.Get\("count"\) is read as int`
		if v == nil {
			count = 0
		} else {
			count = v.(int)
			count++
		}
		session.Set("count", count)
		session.Save() // want `session.Save\(\) with its error dropped: removed`
		c.JSON(http.StatusOK, gin.H{"count": count})
	})
	r.POST("/name", func(c *gin.Context) {
		session := sessions.Default(c)
		session.Set("name", c.PostForm("name"))
		if err := session.Save(); err != nil {
			c.String(http.StatusInternalServerError, "saving the session: %v", err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/hello", func(c *gin.Context) {
		name, ok := sessions.Default(c).Get("name").(string) // want `session.Get\("name"\).\(string\) with ok`
		if !ok {
			name = "stranger"
		}
		c.String(http.StatusOK, "hello, %s", name)
	})
	r.POST("/reset", func(c *gin.Context) {
		session := sessions.Default(c)
		session.Delete("count")
		_ = session.Save() // want `session.Save\(\) with its error dropped: removed`
		c.Status(http.StatusNoContent)
	})
	r.GET("/healthz", func(c *gin.Context) {
		sqlDB, err := db.DB()
		if err == nil {
			err = sqlDB.PingContext(c.Request.Context())
		}
		if err != nil {
			c.String(http.StatusServiceUnavailable, "database: %v", err)
			return
		}
		c.String(http.StatusOK, "ok")
	})
	return r
}
