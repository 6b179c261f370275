// Command example is a small Gin site that keeps its sessions in an embedded
// SQLite file through ginsession: log in, a profile page, a visit counter,
// flash messages and log out.
//
//	go run ./example -addr localhost:8080 -db example.db
package main

import (
	"embed"
	"flag"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed templates/*.html
var templates embed.FS

func main() {
	addr := flag.String("addr", "localhost:8080", "address to serve on")
	path := flag.String("db", "example.db", "SQLite file that holds the sessions")
	flag.Parse()

	db, err := openDB(*path)
	if err != nil {
		slog.Error("open database", "path", *path, "error", err)
		os.Exit(1)
	}
	r := newRouter(db)
	slog.Info("serving the ginsession example", "url", "http://"+*addr, "db", *path)
	if err := r.Run(*addr); err != nil {
		slog.Error("serve", "error", err)
		os.Exit(1)
	}
}

// openDB opens the SQLite file in WAL mode with a busy timeout, the settings
// the README recommends for concurrent requests.
func openDB(path string) (*gorm.DB, error) {
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
	return gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
}

func newRouter(db *gorm.DB, opts ...ginsession.Option) *gin.Engine {
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())
	r.Use(ginsession.New(db, opts...))
	r.SetHTMLTemplate(template.Must(template.ParseFS(templates, "templates/*.html")))

	r.GET("/", home)
	r.GET("/login", func(c *gin.Context) { render(c, "login.html", nil) })
	r.POST("/login", login)
	r.GET("/profile", profile)
	r.POST("/logout", logout)
	return r
}

// page is what every template gets: the flashes to show and the user.
type page struct {
	User    string
	Flashes []any
	Data    gin.H
}

func render(c *gin.Context, name string, data gin.H) {
	s := ginsession.Default(c)
	user, _ := ginsession.Get[string](s, "username")
	c.HTML(http.StatusOK, name, page{User: user, Flashes: s.Flashes(), Data: data})
}

func home(c *gin.Context) {
	s := ginsession.Default(c)
	visits, _ := ginsession.Get[int](s, "visits")
	visits++
	s.Set("visits", visits)
	render(c, "home.html", gin.H{"Visits": visits})
}

func login(c *gin.Context) {
	name := strings.TrimSpace(c.PostForm("username"))
	if name == "" || len(name) > 64 {
		c.HTML(http.StatusBadRequest, "login.html", page{Data: gin.H{"Error": "Enter a name of 1 to 64 characters."}})
		return
	}
	s := ginsession.Default(c)
	s.RenewID() // a new ID at every login defeats session fixation
	s.SetUserID(name)
	s.Set("username", name)
	s.AddFlash("Logged in as " + name)
	c.Redirect(http.StatusSeeOther, "/profile")
}

func profile(c *gin.Context) {
	if _, ok := ginsession.Get[string](ginsession.Default(c), "username"); !ok {
		ginsession.Default(c).AddFlash("Log in to see your profile.")
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	render(c, "profile.html", nil)
}

func logout(c *gin.Context) {
	s := ginsession.Default(c)
	s.Destroy()
	s.AddFlash("Logged out.") // starts a fresh, anonymous session
	c.Redirect(http.StatusSeeOther, "/")
}
