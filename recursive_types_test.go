package ginsession

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Types that refer to themselves, directly or through another type.
type (
	treeNode struct {
		*treeNode
		Name string
	}
	linked struct {
		Next  *linked
		Value int
	}
	// Exported, since encoding/json cannot allocate an embedded pointer to
	// an unexported struct.
	PingNode struct {
		*PongNode
		Ping string
	}
	PongNode struct {
		*PingNode
		Pong string `json:"pong_tag"`
	}
	outerByValue struct {
		innerBack
	}
	innerBack struct {
		*outerByValue
		Depth int
	}
)

// Get[T] on a type that embeds a pointer to itself must answer, not walk
// the type forever: a stack overflow is a fatal error that takes the whole
// server down, which gin.Recovery cannot catch.
func TestTypedReadOfASelfReferentialTypeAnswersWithoutCrashing(t *testing.T) {
	cases := []struct {
		name  string
		value any
		read  func(s *Session) string
		want  string
	}{
		{"embeds itself, a field of its own", map[string]string{"name": "root"},
			func(s *Session) string {
				v, ok := Get[treeNode](s, "v")
				return fmt.Sprint(ok, " ", v.Name, " ", v.treeNode == nil)
			}, "true root true"},
		{"embeds itself, none of its fields", map[string]string{"other": "x"},
			func(s *Session) string { _, ok := Get[treeNode](s, "v"); return fmt.Sprint(ok) }, "false"},
		{"holds a pointer to itself", map[string]any{"Next": map[string]int{"Value": 2}, "Value": 1},
			func(s *Session) string {
				v, ok := Get[linked](s, "v")
				return fmt.Sprint(ok, " ", v.Value, " ", v.Next.Value)
			}, "true 1 2"},
		{"two types embedding each other, the inner one's tagged field", map[string]string{"pong_tag": "p"},
			func(s *Session) string {
				v, ok := Get[PingNode](s, "v")
				return fmt.Sprint(ok, " ", v.PongNode != nil && v.Pong == "p")
			}, "true true"},
		{"two types embedding each other, no field of either", map[string]string{"Pong": "p"},
			func(s *Session) string { _, ok := Get[PingNode](s, "v"); return fmt.Sprint(ok) }, "false"},
		{"embedded by value, pointing back", map[string]int{"depth": 3},
			func(s *Session) string {
				v, ok := Get[outerByValue](s, "v")
				return fmt.Sprint(ok, " ", v.Depth, " ", v.outerByValue == nil)
			}, "true 3 true"},
		{"embedded by value, pointing back, no field", map[string]int{"width": 3},
			func(s *Session) string { _, ok := Get[outerByValue](s, "v"); return fmt.Sprint(ok) }, "false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, storeThenRead(t, tc.value, tc.read))
		})
	}
}

// storeThenRead stores value under "v" in one request and returns what read
// makes of the session in the next, where nothing of the first request's
// memory is left.
func storeThenRead(t *testing.T, value any, read func(s *Session) string) string {
	t.Helper()
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/set", func(c *gin.Context) {
			Default(c).Set("v", value)
			c.Status(http.StatusNoContent)
		})
		r.GET("/read", func(c *gin.Context) { c.String(http.StatusOK, read(Default(c))) })
	})
	cl := a.client()
	require.Equal(t, http.StatusNoContent, cl.get("/set").StatusCode)
	resp := cl.get("/read")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp.body
}
