package main

import (
	"github.com/gin-contrib/sessions" // want "import github.com/ginsession/ginsession in place of github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
)

// cookieName is the name a newer part of the application already takes
// from ginsession.
const cookieName = ginsession.DefaultCookieName

func userName(c *gin.Context) string {
	name, _ := sessions.Default(c).Get("name").(string) // want `session.Get\("name"\).\(string\) with ok`
	return name
}
