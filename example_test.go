package ginsession_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// openExampleDB opens a SQLite file in a temporary directory; the returned
// function removes it.
func openExampleDB() (*gorm.DB, func()) {
	dir, err := os.MkdirTemp("", "ginsession-example")
	if err != nil {
		panic(err)
	}
	dsn := "file:" + filepath.Join(dir, "app.db") + "?_journal_mode=WAL&_busy_timeout=5000"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		panic(err)
	}
	return db, func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
		os.RemoveAll(dir)
	}
}

// get fetches a path with a client that keeps cookies, like a browser.
func get(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func Example() {
	db, cleanup := openExampleDB()
	defer cleanup()
	gin.SetMode(gin.ReleaseMode)

	r := gin.New()
	r.Use(ginsession.New(db)) // migrates the gin_sessions table
	r.GET("/login", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.RenewID()
		s.Set("username", "Alice")
		c.String(http.StatusOK, "Logged in as Alice")
	})
	r.GET("/profile", func(c *gin.Context) {
		name, _ := ginsession.Get[string](ginsession.Default(c), "username")
		c.String(http.StatusOK, "Hello, %s", name)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	browser := newClient()
	fmt.Println(get(browser, srv.URL+"/login"))
	fmt.Println(get(browser, srv.URL+"/profile"))
	// Output:
	// Logged in as Alice
	// Hello, Alice
}

func ExampleGet() {
	db, cleanup := openExampleDB()
	defer cleanup()
	gin.SetMode(gin.ReleaseMode)

	type cart struct {
		Items []string
		Total int
	}
	r := gin.New()
	r.Use(ginsession.New(db))
	r.GET("/add", func(c *gin.Context) {
		s := ginsession.Default(c)
		visits, _ := ginsession.Get[int](s, "visits")
		s.Set("visits", visits+1)
		s.Set("cart", cart{Items: []string{"tea"}, Total: 4})
	})
	r.GET("/show", func(c *gin.Context) {
		s := ginsession.Default(c)
		visits, _ := ginsession.Get[int](s, "visits") // an int again, not a float64
		ct, _ := ginsession.Get[cart](s, "cart")
		_, isString := ginsession.Get[string](s, "visits")
		c.String(http.StatusOK, "%d visit, %v, visits is a string: %v", visits, ct, isString)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	browser := newClient()
	get(browser, srv.URL+"/add")
	fmt.Println(get(browser, srv.URL+"/show"))
	// Output: 1 visit, {[tea] 4}, visits is a string: false
}

func ExampleSession_AddFlash() {
	db, cleanup := openExampleDB()
	defer cleanup()
	gin.SetMode(gin.ReleaseMode)

	r := gin.New()
	r.Use(ginsession.New(db))
	r.GET("/save", func(c *gin.Context) {
		ginsession.Default(c).AddFlash("Settings saved.")
		c.Redirect(http.StatusSeeOther, "/show")
	})
	r.GET("/show", func(c *gin.Context) {
		c.String(http.StatusOK, "%v", ginsession.Default(c).Flashes())
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	browser := newClient()
	fmt.Println(get(browser, srv.URL+"/save")) // follows the redirect
	fmt.Println(get(browser, srv.URL+"/show")) // a flash is read once
	// Output:
	// [Settings saved.]
	// []
}

func ExampleSession_Save() {
	db, cleanup := openExampleDB()
	defer cleanup()
	gin.SetMode(gin.ReleaseMode)

	r := gin.New()
	r.Use(ginsession.New(db))
	r.GET("/export", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.Set("last_export", time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
		// Save before streaming, so that a failure can still change the
		// response and the cookie can still be sent.
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, "try again later")
			return
		}
		c.Stream(func(w io.Writer) bool {
			fmt.Fprint(w, "row 1\n")
			return false
		})
	})
	r.GET("/when", func(c *gin.Context) {
		t, _ := ginsession.Get[time.Time](ginsession.Default(c), "last_export")
		c.String(http.StatusOK, "last export %s", t.Format(time.DateOnly))
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	browser := newClient()
	fmt.Print(get(browser, srv.URL+"/export"))
	fmt.Println(get(browser, srv.URL+"/when"))
	// Output:
	// row 1
	// last export 2026-11-27
}

func ExampleStore_Cleanup() {
	db, cleanup := openExampleDB()
	defer cleanup()

	// A store whose sessions last a second, and no background cleanup.
	store, err := ginsession.NewStore(db,
		ginsession.WithIdleTimeout(time.Second), ginsession.WithCleanupInterval(0))
	if err != nil {
		panic(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(store.Handler())
	r.GET("/", func(c *gin.Context) { ginsession.Default(c).Set("k", "v") })
	srv := httptest.NewServer(r)
	defer srv.Close()
	get(newClient(), srv.URL)
	get(newClient(), srv.URL)

	time.Sleep(1100 * time.Millisecond)
	n, err := store.Cleanup(context.Background())
	fmt.Println(n, err)
	// Output: 2 <nil>
}

func ExampleStore_UserSessions() {
	db, cleanup := openExampleDB()
	defer cleanup()
	gin.SetMode(gin.ReleaseMode)

	store, err := ginsession.NewStore(db)
	if err != nil {
		panic(err)
	}
	r := gin.New()
	r.Use(store.Handler())
	r.GET("/login", func(c *gin.Context) {
		ginsession.Default(c).Login("alice") // a new ID, bound to the user
	})
	r.GET("/devices", func(c *gin.Context) {
		s := ginsession.Default(c)
		devices, err := store.UserSessions(c, s.UserID())
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		for _, d := range devices {
			fmt.Fprintf(c.Writer, "%s this=%v\n", d.UserID, d.Handle == s.Handle())
		}
	})
	r.GET("/signout-others", func(c *gin.Context) {
		n, _ := ginsession.Default(c).DestroyOthers()
		fmt.Fprintf(c.Writer, "signed out %d\n", n)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	laptop, phone := newClient(), newClient()
	get(laptop, srv.URL+"/login")
	get(phone, srv.URL+"/login")
	fmt.Print(get(phone, srv.URL+"/devices"))
	fmt.Print(get(laptop, srv.URL+"/signout-others"))
	fmt.Print(get(laptop, srv.URL+"/devices"))
	// Output:
	// alice this=true
	// alice this=false
	// signed out 1
	// alice this=true
}

// post sends a form with a client that keeps cookies.
func post(client *http.Client, url string, form url.Values, header http.Header) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func ExampleCSRF() {
	db, cleanup := openExampleDB()
	defer cleanup()
	gin.SetMode(gin.ReleaseMode)

	r := gin.New()
	r.Use(ginsession.New(db), ginsession.CSRF())
	r.GET("/form", func(c *gin.Context) {
		// In a template: <input type="hidden" name="csrf_token" value="{{.CSRF}}">
		c.String(http.StatusOK, ginsession.Default(c).CSRFToken())
	})
	r.POST("/transfer", func(c *gin.Context) { c.String(http.StatusOK, "sent %s", c.PostForm("amount")) })
	srv := httptest.NewServer(r)
	defer srv.Close()

	browser := newClient()
	token := get(browser, srv.URL+"/form")
	fmt.Println(post(browser, srv.URL+"/transfer", url.Values{"amount": {"10"}, ginsession.CSRFField: {token}}, nil))
	fmt.Println(post(browser, srv.URL+"/transfer", url.Values{"amount": {"1000"}}, nil))
	// Output:
	// 200 sent 10
	// 403 Forbidden: missing CSRF token: send it in the csrf_token form field or the X-CSRF-Token header
}

func ExampleSession_RememberMe() {
	db, cleanup := openExampleDB()
	defer cleanup()
	gin.SetMode(gin.ReleaseMode)

	r := gin.New()
	r.Use(ginsession.New(db))
	r.GET("/login", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.Login("42")
		s.RememberMe(c.Query("remember") == "on") // the login form's checkbox
		e := s.Expiry()
		c.String(http.StatusOK, "remembered=%v persistent=%v idle=%v", e.Remembered, e.Persistent, e.IdleTimeout)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	fmt.Println(get(newClient(), srv.URL+"/login?remember=on"))
	fmt.Println(get(newClient(), srv.URL+"/login"))
	// Output:
	// remembered=true persistent=true idle=720h0m0s
	// remembered=false persistent=false idle=2h0m0s
}

func ExampleSession_IssueToken() {
	db, cleanup := openExampleDB()
	defer cleanup()
	gin.SetMode(gin.ReleaseMode)

	store, err := ginsession.NewStore(db, ginsession.WithTokenHeader("Authorization"))
	if err != nil {
		panic(err)
	}
	r := gin.New()
	r.Use(store.Handler())
	// Every request under /api is a header request: cookies are neither
	// read nor set there, so an API login cannot touch a browser's session.
	api := r.Group("/api", store.APIHandler())
	api.POST("/login", func(c *gin.Context) {
		// ...check the credentials...
		s := ginsession.Default(c)
		s.Login("42")
		token, err := s.IssueToken()
		if err != nil {
			c.String(http.StatusInternalServerError, "try again")
			return
		}
		c.String(http.StatusOK, token)
	})
	api.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "user %s", ginsession.Default(c).UserID()) })
	srv := httptest.NewServer(r)
	defer srv.Close()

	app := &http.Client{} // no cookie jar: a mobile app
	_, token := post(app, srv.URL+"/api/login", url.Values{}, nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := app.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body), len(resp.Cookies()))
	// Output: user 42 0
}

func ExampleStore_NewSession() {
	db, cleanup := openExampleDB()
	defer cleanup()
	store, err := ginsession.NewStore(db)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	token, err := store.NewSession(ctx, ginsession.Seed{UserID: "42", Values: map[string]any{"cart": 3}})
	if err != nil {
		panic(err)
	}
	// A test would now send store.SessionCookie(token) with its request.
	s, err := store.ReadSession(ctx, token)
	if err != nil {
		panic(err)
	}
	cart, _ := ginsession.Get[int](s, "cart")
	fmt.Println(s.UserID(), cart, store.SessionCookie(token).Name)
	// Output: 42 3 session_id
}

// An admin page lists every user's sessions a page at a time: each page
// stops after a few sessions and links to the next with the last one's
// cursor, which the next request passes back as After.
func ExampleStore_Sessions() {
	db, cleanup := openExampleDB()
	defer cleanup()
	store, err := ginsession.NewStore(db, ginsession.WithTokenHeader("Authorization"))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, seed := range []ginsession.Seed{{UserID: "alice"}, {UserID: "alice", Header: true}, {UserID: "bob"}, {}} {
		if _, err := store.NewSession(ctx, seed); err != nil {
			panic(err)
		}
	}

	// One page of an admin page: at most 2 signed-in sessions.
	page := func(after string) (users []string, next string) {
		q := ginsession.SessionQuery{Kind: ginsession.KindSignedIn, After: after}
		for info, err := range store.Sessions(ctx, q) {
			if err != nil {
				panic(err)
			}
			users = append(users, info.UserID)
			if len(users) == 2 {
				return users, info.Cursor()
			}
		}
		return users, ""
	}
	first, next := page("")
	second, last := page(next)
	fmt.Println(len(first), len(second), last == "")

	// Filters: alice's API tokens.
	for info, err := range store.Sessions(ctx, ginsession.SessionQuery{UserID: "alice", Kind: ginsession.KindAPIToken}) {
		if err != nil {
			panic(err)
		}
		fmt.Println(info.UserID, info.Header)
	}

	counts, err := store.CountSessions(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", counts)
	byKind, err := store.CountSessionsByKind(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(byKind[ginsession.KindAPIToken], "API tokens")

	// A query the store cannot run fails before reading anything.
	for _, err := range store.Sessions(ctx, ginsession.SessionQuery{PageSize: -1}) {
		fmt.Println(errors.Is(err, ginsession.ErrInvalidQuery))
	}
	// Output:
	// 2 1 true
	// alice true
	// {Live:4 SignedIn:3 Anonymous:1}
	// 1 API tokens
	// true
}
