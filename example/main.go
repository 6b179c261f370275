// Command example is a small Gin site that keeps its sessions in an embedded
// SQLite file through ginsession, written to be copied from. It has what a
// real login needs:
//
//   - a login form that checks a password, with a "remember me" box;
//   - a CSRF token in every form, checked by ginsession.CSRF;
//   - a profile page with the signed-in time, the session's expiry, a visit
//     counter and flash messages;
//   - a "your devices" page that lists the user's sessions (browser,
//     address, signed-in time, last use), signs any of them out, and mints
//     API tokens for scripts;
//   - client addresses that an X-Forwarded-For header cannot forge.
//
// Run it with
//
//	go run ./example -addr localhost:8080 -db example.db
//
// and log in as alice (password wonderland) or bob (password builder).
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

// static holds the stylesheet, served at /static/style.css.
//
//go:embed static/style.css
var static embed.FS

func main() {
	addr := flag.String("addr", "localhost:8080", "address to serve on")
	path := flag.String("db", "example.db", "SQLite file that holds the sessions")
	proxies := flag.String("trusted-proxies", "", "comma-separated addresses or CIDRs of the reverse proxies in front of the site, whose X-Forwarded-For header is believed; empty: none, so a session's address is its connection's")
	flag.Parse()

	db, err := openDB(*path)
	if err != nil {
		slog.Error("open database", "path", *path, "error", err)
		os.Exit(1)
	}
	r, err := newRouter(db, splitList(*proxies))
	if err != nil {
		slog.Error("start", "error", err)
		os.Exit(1)
	}
	slog.Info("serving the ginsession example", "url", "http://"+*addr, "db", *path)
	if err := r.Run(*addr); err != nil {
		slog.Error("serve", "error", err)
		os.Exit(1)
	}
}

// openDB opens the SQLite file in WAL mode with a busy timeout, the settings
// docs/production.md recommends for concurrent requests.
func openDB(path string) (*gorm.DB, error) {
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
	return gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
}

// splitList splits a comma-separated flag into its non-empty items; nil
// when there are none.
func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// newRouter builds the site. trustedProxies are the reverse proxies whose
// X-Forwarded-For header is believed (none when nil); opts are added to the
// session store's.
func newRouter(db *gorm.DB, trustedProxies []string, opts ...ginsession.Option) (*gin.Engine, error) {
	opts = append([]ginsession.Option{
		// The devices page shows each session's browser, address and last
		// use. Both are personal data, which is why the store asks.
		ginsession.WithRecordUserAgent(true),
		ginsession.WithRecordClientIP(true),
		ginsession.WithLastSeenInterval(time.Minute),
		// Scripts send "Authorization: Bearer <token>" instead of a cookie
		// (see newToken and apiMe).
		ginsession.WithTokenHeader("Authorization"),
	}, opts...)
	store, err := ginsession.NewStore(db, opts...)
	if err != nil {
		return nil, err
	}

	r := gin.New()
	// Gin believes X-Forwarded-For from any peer unless told otherwise, and
	// then anyone can choose the address the devices page records. Believe
	// it only from the proxies named; with none, the address is the
	// connection's.
	if err := r.SetTrustedProxies(trustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	r.Use(gin.Logger(), gin.Recovery())
	r.Use(store.Handler())
	// After the session middleware, whose session holds the tokens: every
	// POST must carry one, or it is refused with 403.
	r.Use(ginsession.CSRF())
	r.SetHTMLTemplate(template.Must(template.New("").Funcs(template.FuncMap{
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"relative": relative,
		"roughly":  roughly,
	}).ParseFS(templates, "templates/*.html")))

	// The stylesheet never touches the session, so fetching it runs no SQL.
	r.StaticFileFS("/static/style.css", "static/style.css", http.FS(static))

	a := &app{store: store, users: newUserTable()}
	r.GET("/", a.home)
	r.GET("/login", a.loginForm)
	r.POST("/login", a.login)
	r.POST("/logout", a.logout)
	r.GET("/profile", a.profile)
	r.GET("/devices", a.devices)
	r.POST("/devices/signout", a.signOut)
	r.POST("/devices/signout-others", a.signOutOthers)
	r.POST("/devices/token", a.newToken)
	r.GET("/api/me", a.apiMe)
	return r, nil
}

// app holds what the handlers share.
type app struct {
	store *ginsession.Store
	users userTable
}

// page is what every template gets.
type page struct {
	Path    string // the request's, to mark the current page in the menu
	User    *user  // nil when signed out
	CSRF    string // the token every form sends back as csrf_token
	Flashes []any
	Data    any // the page's own
}

// render writes a page with the session's user, a CSRF token and the
// flashes waiting to be shown.
func (a *app) render(c *gin.Context, status int, name string, data any) {
	s := ginsession.Default(c)
	u, _ := a.currentUser(s)
	// Take the token before the page starts: for a visitor who has no
	// session yet it sets a CSRF cookie, which must go out with the headers.
	csrf := s.CSRFToken()
	c.HTML(status, name, page{Path: c.Request.URL.Path, User: u, CSRF: csrf, Flashes: s.Flashes(), Data: data})
}

// currentUser returns the user the session is signed in as.
func (a *app) currentUser(s *ginsession.Session) (*user, bool) {
	id := s.UserID()
	if id == "" {
		return nil, false
	}
	return a.users.byUserID(id)
}

// mustLogIn sends a signed-out visitor to the login page with a word on why.
func mustLogIn(c *gin.Context, why string) {
	ginsession.Default(c).AddFlash(why)
	c.Redirect(http.StatusSeeOther, "/login")
}

// countVisit adds one to the session's visit counter and returns it.
func countVisit(s *ginsession.Session) int {
	n, _ := ginsession.Get[int](s, "visits")
	n++
	s.Set("visits", n)
	return n
}

func (a *app) home(c *gin.Context) {
	visits := countVisit(ginsession.Default(c))
	a.render(c, http.StatusOK, "home.html", struct{ Visits int }{visits})
}

// loginData is what the login form shows again after a failed attempt.
type loginData struct {
	Username string
	Remember bool
	Error    string
}

func (a *app) loginForm(c *gin.Context) {
	a.render(c, http.StatusOK, "login.html", loginData{})
}

func (a *app) login(c *gin.Context) {
	username := c.PostForm("username")
	remember := c.PostForm("remember") == "on"
	u, ok := a.users.authenticate(username, c.PostForm("password"))
	if !ok {
		// The same words for an unknown user and a wrong password, so the
		// form does not tell which usernames exist. (A real site also slows
		// down repeated failures.)
		a.render(c, http.StatusUnauthorized, "login.html",
			loginData{Username: username, Remember: remember, Error: "Wrong username or password."})
		return
	}
	s := ginsession.Default(c)
	s.Login(u.ID)          // a new session ID at every sign-in defeats session fixation
	s.RememberMe(remember) // a persistent cookie, or one the browser drops when it closes
	s.AddFlash("Logged in as " + u.Name)
	c.Redirect(http.StatusSeeOther, "/profile")
}

func (a *app) logout(c *gin.Context) {
	s := ginsession.Default(c)
	s.Destroy()
	s.AddFlash("Logged out.") // starts a fresh, anonymous session
	c.Redirect(http.StatusSeeOther, "/")
}

// profileData is the profile page's.
type profileData struct {
	Visits     int
	SignedInAt time.Time
	Expiry     ginsession.Expiry
}

func (a *app) profile(c *gin.Context) {
	s := ginsession.Default(c)
	if _, ok := a.currentUser(s); !ok {
		mustLogIn(c, "Log in to see your profile.")
		return
	}
	visits := countVisit(s)
	// The session itself does not say when it signed in; the user's list of
	// sessions does, for the entry whose handle is this session's.
	infos, err := a.store.UserSessions(c.Request.Context(), s.UserID())
	if err != nil {
		serverError(c, err, "cannot read your session")
		return
	}
	var signedIn time.Time
	for _, info := range infos {
		if info.Handle == s.Handle() {
			signedIn = info.SignedInAt
			break
		}
	}
	a.render(c, http.StatusOK, "profile.html", profileData{Visits: visits, SignedInAt: signedIn, Expiry: s.Expiry()})
}

// device is one row of the devices page.
type device struct {
	Handle     string
	Browser    string // "Chrome on Linux"
	Address    string
	SignedInAt time.Time
	LastSeen   time.Time
	Kind       string // how long it lasts: "remembered", "until the browser closes", "API token"
	Current    bool   // the session of this very request
}

func (a *app) devices(c *gin.Context) {
	s := ginsession.Default(c)
	if _, ok := a.currentUser(s); !ok {
		mustLogIn(c, "Log in to see your devices.")
		return
	}
	infos, err := a.store.UserSessions(c.Request.Context(), s.UserID())
	if err != nil {
		serverError(c, err, "cannot list your devices")
		return
	}
	list := make([]device, len(infos))
	for i, info := range infos {
		d := device{
			Handle:     info.Handle,
			Browser:    describeUserAgent(info.UserAgent),
			Address:    info.ClientIP,
			SignedInAt: info.SignedInAt,
			LastSeen:   info.LastSeen,
			Kind:       "until the browser closes",
			Current:    info.Handle == s.Handle(),
		}
		switch {
		case info.Header:
			d.Kind = "API token"
		case info.Remembered:
			d.Kind = "remembered"
		}
		if d.Address == "" {
			d.Address = "unknown"
		}
		list[i] = d
	}
	a.render(c, http.StatusOK, "devices.html", struct{ Devices []device }{list})
}

func (a *app) signOut(c *gin.Context) {
	s := ginsession.Default(c)
	if _, ok := a.currentUser(s); !ok {
		mustLogIn(c, "Log in to manage your devices.")
		return
	}
	handle := c.PostForm("handle")
	if handle != "" && handle == s.Handle() {
		a.logout(c)
		return
	}
	// DestroyUserSession signs a session out only if it is this user's: a
	// handle copied from someone else's page does nothing.
	ok, err := a.store.DestroyUserSession(c.Request.Context(), s.UserID(), handle)
	switch {
	case errors.Is(err, ginsession.ErrInvalidHandle) || err == nil && !ok:
		c.String(http.StatusForbidden, "That is not one of your devices.")
		return
	case err != nil:
		serverError(c, err, "cannot sign that device out")
		return
	}
	s.AddFlash("Signed that device out.")
	c.Redirect(http.StatusSeeOther, "/devices")
}

func (a *app) signOutOthers(c *gin.Context) {
	s := ginsession.Default(c)
	if _, ok := a.currentUser(s); !ok {
		mustLogIn(c, "Log in to manage your devices.")
		return
	}
	n, err := s.DestroyOthers()
	switch {
	case errors.Is(err, ginsession.ErrSessionInterrupted):
		// This session was itself signed out while the request ran: it
		// must not speak for the user.
		c.String(http.StatusConflict, "This device was signed out meanwhile; log in again.")
		return
	case err != nil:
		serverError(c, err, "cannot sign your other devices out")
		return
	}
	s.AddFlash(fmt.Sprintf("Signed out %d other device(s).", n))
	c.Redirect(http.StatusSeeOther, "/devices")
}

// newToken mints an API token for the user: a session carried in the
// Authorization header instead of a cookie, listed among the devices and
// signed out like one. MintToken keeps this sign-in's time and lifetime,
// mints nothing if the sign-in was revoked meanwhile, and leaves the
// browser's session as it was.
func (a *app) newToken(c *gin.Context) {
	s := ginsession.Default(c)
	_, ok := a.currentUser(s)
	if !ok {
		mustLogIn(c, "Log in to create an API token.")
		return
	}
	token, err := s.MintToken()
	switch {
	case errors.Is(err, ginsession.ErrSessionInterrupted):
		mustLogIn(c, "You were signed out meanwhile: log in again to create an API token.")
		return
	case err != nil:
		serverError(c, err, "cannot create a token")
		return
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	// The page holds a secret: no cache may keep it.
	c.Header("Cache-Control", "no-store")
	a.render(c, http.StatusOK, "token.html", struct{ Token, URL string }{token, scheme + "://" + c.Request.Host + "/api/me"})
}

// apiMe answers a script who it is signed in as.
func (a *app) apiMe(c *gin.Context) {
	u, ok := a.currentUser(ginsession.Default(c))
	if !ok {
		c.JSON(http.StatusUnauthorized, gin.H{"error": "not signed in: send Authorization: Bearer <token>"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": u.ID, "username": u.Username, "name": u.Name})
}

func serverError(c *gin.Context, err error, what string) {
	_ = c.Error(err)
	c.String(http.StatusInternalServerError, what)
}

// relative says how far t is from now in words: "3 minutes ago", "in 30
// days", "just now".
func relative(t time.Time) string {
	d := time.Since(t)
	switch {
	case d > -time.Second && d < time.Second:
		return "just now"
	case d > 0:
		return roughly(d) + " ago"
	}
	return "in " + roughly(-d)
}

// roughly rounds d to its largest whole unit, in words.
func roughly(d time.Duration) string {
	for _, u := range []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}} {
		if n := (d + u.size/2) / u.size; n >= 2 {
			return fmt.Sprintf("%d %ss", n, u.name)
		}
	}
	if n := (d + time.Second/2) / time.Second; n != 1 {
		return fmt.Sprintf("%d seconds", n)
	}
	return "1 second"
}
