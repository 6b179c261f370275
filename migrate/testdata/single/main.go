// Command single imports one package per declaration in main.go, and
// already imports ginsession in extra.go.
package main

import "github.com/gin-gonic/gin"
import "github.com/gin-contrib/sessions" // want "import github.com/ginsession/ginsession in place of github.com/gin-contrib/sessions"
import gormsessions "github.com/gin-contrib/sessions/gorm"
import "gorm.io/gorm"

func newRouter(db *gorm.DB) *gin.Engine {
	r := gin.New()
	r.Use(sessions.Sessions("mysession", gormsessions.NewStore(db, true, []byte("secret")))) // want `sessions.Sessions\("mysession", ...\)`
	r.POST("/login", func(c *gin.Context) {
		session := sessions.Default(c)
		session.Set("user", c.PostForm("user"))
		session.Options(sessions.Options{MaxAge: 90 * 60}) // want `session.Options\(sessions.Options\{MaxAge: 5400\}\)`
		c.Status(204)
	})
	return r
}

func main() {
	_ = cookieName
	_ = userName
	_ = newRouter(nil).Run("localhost:8080")
}
