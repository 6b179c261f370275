package ginsession

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type profile struct {
	Name  string
	Age   int
	Tags  []string
	Since time.Time
}

// typedCase stores a value in one request and reads it with Get[T] in the
// next, where nothing of the first request's memory is left.
type typedCase struct {
	value any
	check func(s *Session) (any, bool)
}

func typed[T any](v T) typedCase {
	return typedCase{value: v, check: func(s *Session) (any, bool) { return Get[T](s, "v") }}
}

func TestTypedValuesRoundTripAcrossRequests(t *testing.T) {
	when := time.Date(2026, 11, 27, 9, 30, 15, 123456789, time.FixedZone("CET", 3600))
	cases := map[string]typedCase{
		"string":  typed("Alice"),
		"int":     typed(42),
		"int64":   typed(int64(1) << 60),
		"uint8":   typed(uint8(200)),
		"bool":    typed(true),
		"float":   typed(3.25),
		"time":    typed(when),
		"slice":   typed([]string{"a", "b"}),
		"ints":    typed([]int{1, 2, 3}),
		"map":     typed(map[string]int{"x": 1}),
		"struct":  typed(profile{Name: "Alice", Age: 30, Tags: []string{"admin"}, Since: when}),
		"pointer": typed(&profile{Name: "Bob"}),
		"empty":   typed(""),
	}
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/typed/set/:name", func(c *gin.Context) {
			Default(c).Set("v", cases[c.Param("name")].value)
			c.Status(http.StatusNoContent)
		})
		r.GET("/typed/check/:name", func(c *gin.Context) {
			tc := cases[c.Param("name")]
			got, ok := tc.check(Default(c))
			if !ok {
				c.String(http.StatusOK, "not found")
				return
			}
			if tm, isTime := got.(time.Time); isTime && tm.Equal(tc.value.(time.Time)) {
				c.String(http.StatusOK, "equal")
				return
			}
			if p, isProfile := got.(profile); isProfile && p.Since.Equal(when) {
				p.Since = when
				got = p
			}
			if reflect.DeepEqual(got, tc.value) {
				c.String(http.StatusOK, "equal")
				return
			}
			c.String(http.StatusOK, "got %#v", got)
		})
	})
	for name := range cases {
		t.Run(name, func(t *testing.T) {
			cl := a.client()
			require.Equal(t, http.StatusNoContent, cl.get("/typed/set/"+name).StatusCode)
			assert.Equal(t, "equal", cl.get("/typed/check/"+name).body)
		})
	}
}

func TestTypedReadOfAnotherTypeGivesFalse(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/set", func(c *gin.Context) {
			s := Default(c)
			s.Set("name", "Alice")
			s.Set("n", 7)
			c.Status(http.StatusNoContent)
		})
		r.GET("/check", func(c *gin.Context) {
			s := Default(c)
			_, intFromString := Get[int](s, "name")
			_, stringFromInt := Get[string](s, "n")
			_, boolFromInt := Get[bool](s, "n")
			_, structFromString := Get[profile](s, "name")
			_, missing := Get[string](s, "nope")
			n, nOK := Get[int](s, "n")
			c.String(http.StatusOK, "%v %v %v %v %v %d %v",
				intFromString, stringFromInt, boolFromInt, structFromString, missing, n, nOK)
		})
	})
	cl := a.client()
	cl.get("/set")
	assert.Equal(t, "false false false false false 7 true", cl.get("/check").body)
}

type embedded struct{ Role string }

type account struct {
	embedded
	ID    int    `json:"uid"`
	Email string `json:"email,omitempty"`
	Skip  string `json:"-"`
}

// ok from Get[T] means a T was stored: not null read as an int, not an
// object that merely decodes into a struct by ignoring all of its keys.
func TestTypedReadSaysOKOnlyForAStoredT(t *testing.T) {
	cases := []struct {
		name  string
		value any
		read  func(s *Session) bool
		want  bool
	}{
		{"nil as int", nil, func(s *Session) bool { _, ok := Get[int](s, "v"); return ok }, false},
		{"nil as string", nil, func(s *Session) bool { _, ok := Get[string](s, "v"); return ok }, false},
		{"nil as struct", nil, func(s *Session) bool { _, ok := Get[profile](s, "v"); return ok }, false},
		{"nil as pointer", nil, func(s *Session) bool { p, ok := Get[*int](s, "v"); return ok && p == nil }, true},
		{"nil as slice", nil, func(s *Session) bool { _, ok := Get[[]int](s, "v"); return ok }, true},
		{"nil as any", nil, func(s *Session) bool { _, ok := Get[any](s, "v"); return ok }, true},
		{"object with none of the fields", map[string]int{"other": 1}, func(s *Session) bool { _, ok := Get[profile](s, "v"); return ok }, false},
		{"empty object", map[string]int{}, func(s *Session) bool { _, ok := Get[profile](s, "v"); return ok }, false},
		{"object with one field", map[string]string{"name": "Alice"}, func(s *Session) bool { p, ok := Get[profile](s, "v"); return ok && p.Name == "Alice" }, true},
		{"the struct itself", profile{Name: "Alice"}, func(s *Session) bool { _, ok := Get[profile](s, "v"); return ok }, true},
		{"a tagged field", map[string]int{"uid": 42}, func(s *Session) bool { a, ok := Get[account](s, "v"); return ok && a.ID == 42 }, true},
		{"a Go name hidden by its tag", map[string]int{"ID": 42}, func(s *Session) bool { _, ok := Get[account](s, "v"); return ok }, false},
		{"an embedded field", map[string]string{"role": "admin"}, func(s *Session) bool { a, ok := Get[account](s, "v"); return ok && a.Role == "admin" }, true},
		{"a field tagged -", map[string]string{"Skip": "x"}, func(s *Session) bool { _, ok := Get[account](s, "v"); return ok }, false},
		{"zero int", 0, func(s *Session) bool { n, ok := Get[int](s, "v"); return ok && n == 0 }, true},
		{"1.5 as int", 1.5, func(s *Session) bool { _, ok := Get[int](s, "v"); return ok }, false},
		{"time", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), func(s *Session) bool { _, ok := Get[time.Time](s, "v"); return ok }, true},
		{"empty map as map", map[string]int{}, func(s *Session) bool { m, ok := Get[map[string]int](s, "v"); return ok && len(m) == 0 }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, func(r *gin.Engine) {
				r.GET("/set", func(c *gin.Context) {
					Default(c).Set("v", tc.value)
					c.Status(http.StatusNoContent)
				})
				r.GET("/read", func(c *gin.Context) { c.String(http.StatusOK, "%v", tc.read(Default(c))) })
			})
			cl := a.client()
			require.Equal(t, http.StatusNoContent, cl.get("/set").StatusCode)
			assert.Equal(t, fmt.Sprint(tc.want), cl.get("/read").body)
		})
	}
}

func TestUntypedGetIsTheSameInTheRequestAndTheNext(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/set", func(c *gin.Context) {
			s := Default(c)
			s.Set("n", 7)
			c.String(http.StatusOK, "%T %v", s.Get("n"), s.Get("n"))
		})
		r.GET("/get", func(c *gin.Context) {
			v := Default(c).Get("n")
			c.String(http.StatusOK, "%T %v", v, v)
		})
		r.GET("/missing", func(c *gin.Context) { c.String(http.StatusOK, "%v", Default(c).Get("nope")) })
	})
	cl := a.client()
	same := cl.get("/set").body
	assert.Equal(t, "float64 7", same)
	assert.Equal(t, same, cl.get("/get").body)
	assert.Equal(t, "<nil>", cl.get("/missing").body)
}

func TestHasDeleteKeysAndClear(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/has", func(c *gin.Context) { c.String(http.StatusOK, "%v", Default(c).Has(c.Query("k"))) })
		r.GET("/delete", func(c *gin.Context) {
			Default(c).Delete(c.Query("k"))
			c.Status(http.StatusNoContent)
		})
		r.GET("/clear", func(c *gin.Context) {
			s := Default(c)
			s.Clear()
			s.Set("after", "clear")
			c.Status(http.StatusNoContent)
		})
	})
	cl := a.client()
	cl.get("/set?a=1&b=2&c=3")
	assert.Equal(t, "a,b,c", cl.get("/keys").body)
	assert.Equal(t, "true", cl.get("/has?k=b").body)
	assert.Equal(t, "false", cl.get("/has?k=z").body)

	resp := cl.get("/delete?k=b")
	assert.Equal(t, []string{"SELECT", "UPDATE"}, kinds(resp.stmts))
	assert.Equal(t, "a,c", cl.get("/keys").body)
	resp = cl.get("/delete?k=missing")
	assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts), "deleting nothing writes nothing")

	id := cl.cookie()
	cl.get("/clear")
	assert.Equal(t, "after", cl.get("/keys").body)
	assert.Equal(t, id, cl.cookie(), "Clear keeps the session")
}

func TestSettingTheSameValueWritesNothing(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.get("/set?k=v")
	resp := cl.get("/set?k=v")
	assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts))
}

func TestFlashesAreReadOnce(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/flash", func(c *gin.Context) {
			s := Default(c)
			s.AddFlash("saved")
			s.AddFlash(map[string]string{"level": "info"})
			c.Status(http.StatusNoContent)
		})
		r.GET("/show", func(c *gin.Context) { c.String(http.StatusOK, "%v", Default(c).Flashes()) })
		r.GET("/user-key", func(c *gin.Context) {
			Default(c).Set("flashes", "mine")
			c.Status(http.StatusNoContent)
		})
		basicRoutes(r)
	})
	cl := a.client()
	cl.get("/flash")
	cl.get("/user-key")
	resp := cl.get("/show")
	assert.Equal(t, "[saved map[level:info]]", resp.body)
	assert.Equal(t, []string{"SELECT", "UPDATE"}, kinds(resp.stmts))
	resp = cl.get("/show")
	assert.Equal(t, "[]", resp.body)
	assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts), "no flashes: nothing to write")
	assert.Equal(t, "mine", cl.get("/get?k=flashes").body, "a user key named like the flash list is its own")
}

func TestUserIDIsStoredInItsColumn(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/login", func(c *gin.Context) {
			s := Default(c)
			s.RenewID()
			s.SetUserID("user-42")
			c.Status(http.StatusNoContent)
		})
		r.GET("/who", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
	})
	cl := a.client()
	cl.get("/login")
	assert.Equal(t, "user-42", cl.get("/who").body)
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.Equal(t, "user-42", rows[0].UserID)
	assert.Empty(t, a.client().get("/who").body)
}

func TestIsNew(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/visit", func(c *gin.Context) {
			s := Default(c)
			n, _ := Get[int](s, "visits")
			s.Set("visits", n+1)
			c.String(http.StatusOK, "%v %d", s.IsNew(), n+1)
		})
	})
	cl := a.client()
	assert.Equal(t, "true 1", cl.get("/visit").body)
	assert.Equal(t, "false 2", cl.get("/visit").body)
	assert.Equal(t, "false 3", cl.get("/visit").body)
}

func TestExplicitSaveBeforeStreamingSendsCookie(t *testing.T) {
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/early", func(c *gin.Context) {
			s := Default(c)
			s.Set("k", "early")
			if err := s.Save(); err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			assert.Len(t, a.rows(), 1, "saved before any byte")
			c.String(http.StatusOK, "ok")
		})
	})
	cl := a.client()
	resp := cl.get("/early")
	require.Equal(t, "ok", resp.body)
	assert.Equal(t, 1, strings.Count(strings.Join(resp.Header.Values("Set-Cookie"), "\n"), DefaultCookieName+"="))
	assert.Equal(t, "early", cl.get("/get?k=k").body)
}

func TestSaveTwiceWritesOnce(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/twice", func(c *gin.Context) {
			s := Default(c)
			s.Set("k", "v")
			require.NoError(t, s.Save())
			require.NoError(t, s.Save())
			c.String(http.StatusOK, fmt.Sprint(s.IsNew()))
		})
	})
	resp := a.client().get("/twice")
	assert.Equal(t, []string{"INSERT"}, kinds(resp.stmts))
	assert.Equal(t, "false", resp.body)
}
