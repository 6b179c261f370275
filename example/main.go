// Command example is a small Gin site that keeps its sessions in an embedded
// SQLite file through ginsession: log in, a profile page, a visit counter,
// flash messages, a "your devices" page and log out.
//
//	go run ./example -addr localhost:8080 -db example.db
package main

import (
	"embed"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

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
	r, err := newRouter(db)
	if err != nil {
		slog.Error("session store", "error", err)
		os.Exit(1)
	}
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

func newRouter(db *gorm.DB, opts ...ginsession.Option) (*gin.Engine, error) {
	// The devices page shows each session's browser, address and last use.
	opts = append([]ginsession.Option{
		ginsession.WithRecordUserAgent(true),
		ginsession.WithRecordClientIP(true),
		ginsession.WithLastSeenInterval(time.Minute),
	}, opts...)
	store, err := ginsession.NewStore(db, opts...)
	if err != nil {
		return nil, err
	}
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())
	r.Use(store.Handler())
	r.SetHTMLTemplate(template.Must(template.New("").Funcs(template.FuncMap{
		"ago": func(t time.Time) string {
			if d := time.Since(t).Round(time.Second); d >= time.Second {
				return d.String() + " ago"
			}
			return "just now"
		},
	}).ParseFS(templates, "templates/*.html")))

	d := devices{store: store}
	r.GET("/", home)
	r.GET("/login", func(c *gin.Context) { render(c, "login.html", nil) })
	r.POST("/login", login)
	r.GET("/profile", profile)
	r.GET("/devices", d.list)
	r.POST("/devices/signout", d.signOut)
	r.POST("/devices/signout-others", d.signOutOthers)
	r.POST("/logout", logout)
	return r, nil
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
	s.Login(name) // a new ID at every login defeats session fixation
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

// devices is the "your devices" page: where the user is signed in, with a
// way to sign each other browser out.
type devices struct{ store *ginsession.Store }

func (d devices) list(c *gin.Context) {
	s := ginsession.Default(c)
	if s.UserID() == "" {
		s.AddFlash("Log in to see your devices.")
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	infos, err := d.store.UserSessions(c.Request.Context(), s.UserID())
	if err != nil {
		_ = c.Error(err)
		c.String(http.StatusInternalServerError, "cannot list your devices")
		return
	}
	type device struct {
		ginsession.SessionInfo
		Current bool
	}
	list := make([]device, len(infos))
	for i, info := range infos {
		list[i] = device{info, info.Handle == s.Handle()}
	}
	render(c, "devices.html", gin.H{"Devices": list})
}

func (d devices) signOut(c *gin.Context) {
	s := ginsession.Default(c)
	handle := c.PostForm("handle")
	if handle != "" && handle == s.Handle() {
		logout(c)
		return
	}
	// Only a session of this user may be signed out from here.
	ok, err := d.store.DestroyUserSession(c.Request.Context(), s.UserID(), handle)
	switch {
	case errors.Is(err, ginsession.ErrInvalidHandle) || err == nil && !ok:
		c.String(http.StatusForbidden, "not one of your sessions")
		return
	case err != nil:
		_ = c.Error(err)
		c.String(http.StatusInternalServerError, "cannot sign that browser out")
		return
	}
	s.AddFlash("Signed that browser out.")
	c.Redirect(http.StatusSeeOther, "/devices")
}

func (d devices) signOutOthers(c *gin.Context) {
	s := ginsession.Default(c)
	n, err := s.DestroyOthers()
	if err != nil {
		c.String(http.StatusForbidden, "log in first")
		return
	}
	s.AddFlash(fmt.Sprintf("Signed out %d other browser(s).", n))
	c.Redirect(http.StatusSeeOther, "/devices")
}
