package ginsession

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingBody counts the bytes the application reads of a request body.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// uploadSeen is what the server saw of one upload: how much of the body
// was read and how many temporary files the request had made when the
// handler started (-1: it never did) and when the chain ended, and the
// answer.
type uploadSeen struct {
	readBeforeHandler, tempBeforeHandler int64
	read, temp                           int64
	status                               int
}

// uploadApp is an app behind CSRF whose /upload handler reports what it
// finds in the form, and which watches every request's body and the
// temporary directory.
type uploadApp struct {
	*app
	tmp    string
	mu     sync.Mutex
	seen   uploadSeen
	before map[string]bool // the temporary files when the request came
}

func newUploadApp(t *testing.T) *uploadApp {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where mime/multipart puts what does not fit in memory
	u := &uploadApp{tmp: tmp}
	watch := func(c *gin.Context) {
		body := &countingBody{ReadCloser: c.Request.Body}
		c.Request.Body = body
		c.Set("body", body)
		u.mu.Lock()
		u.seen = uploadSeen{readBeforeHandler: -1, tempBeforeHandler: -1}
		u.before = u.tempNames()
		u.mu.Unlock()
		c.Next()
		u.mu.Lock()
		u.seen.read, u.seen.temp, u.seen.status = body.n.Load(), u.tempFiles(), c.Writer.Status()
		u.mu.Unlock()
	}
	db, rec := openDB(t)
	u.app = newAppBehind(t, db, rec, watch, func(r *gin.Engine) {
		r.MaxMultipartMemory = 64 << 10 // the handler's own limit: larger files go to disk
		r.Use(CSRF())
		r.GET("/form", func(c *gin.Context) { c.String(http.StatusOK, Default(c).CSRFToken()) })
		r.POST("/upload", func(c *gin.Context) {
			body, _ := c.Get("body")
			u.mu.Lock()
			u.seen.readBeforeHandler, u.seen.tempBeforeHandler = body.(*countingBody).n.Load(), u.tempFiles()
			u.mu.Unlock()
			file, err := c.FormFile("file")
			size := int64(-1)
			if err == nil {
				size = file.Size
			}
			c.String(http.StatusOK, "token=%t note=%d file=%d", c.PostForm(CSRFField) != "", len(c.PostForm("note")), size)
		})
	})
	return u
}

func (u *uploadApp) tempNames() map[string]bool {
	entries, err := os.ReadDir(u.tmp)
	require.NoError(u.t, err)
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names
}

// tempFiles counts the temporary files made since the request came: the
// server removes an earlier request's only after its response went out.
// The caller holds u.mu.
func (u *uploadApp) tempFiles() int64 {
	var n int64
	for name := range u.tempNames() {
		if !u.before[name] {
			n++
		}
	}
	return n
}

// post sends body to /upload from cl, and returns what the server saw. A
// refused upload's connection may be closed before all of it was sent, as
// the server reads no more of it: then only the server's side is known.
func (u *uploadApp) post(cl *client, contentType string, body []byte) (uploadSeen, string) {
	u.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u.srv.URL+"/upload", bytes.NewReader(body))
	require.NoError(u.t, err)
	req.Header.Set("Content-Type", contentType)
	answer := ""
	if resp, err := cl.hc.Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answer = string(b)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen, answer
}

// multipartForm writes fields in order; a field named "file" is a file.
func multipartForm(t *testing.T, fields ...[2]string) (string, []byte) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range fields {
		var part io.Writer
		var err error
		if f[0] == "file" {
			part, err = w.CreateFormFile("file", "upload.bin")
		} else {
			part, err = w.CreateFormField(f[0])
		}
		require.NoError(t, err)
		_, err = io.WriteString(part, f[1])
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return w.FormDataContentType(), b.Bytes()
}

// CSRF refuses what it can before it reads a body, and reads a form only
// as far as the token, in memory: a forged upload, or one without a
// session, must not make the server read megabytes or write temporary
// files, while the handler still gets the whole upload it accepts.
func TestCSRFReadsABodyOnlyAfterTheCheapChecksAndOnlyInMemory(t *testing.T) {
	const fileSize = 3 << 20
	u := newUploadApp(t)
	user := u.client()
	token := user.formToken()
	file := strings.Repeat("x", fileSize)
	stranger := u.client() // no session cookie at all

	for _, tc := range []struct {
		name   string
		cl     *client
		fields [][2]string
		status int
		answer string // what the handler or the refusal says
		// read bounds what CSRF reads before it answers or the handler
		// starts
		read int64
	}{
		{"no session: refused before the body", stranger,
			[][2]string{{CSRFField, token}, {"file", file}}, http.StatusForbidden, "no session", 0},
		{"a forged token first: refused after reading the token only", user,
			[][2]string{{CSRFField, flip(token)}, {"file", file}}, http.StatusForbidden, "does not belong", 64 << 10},
		{"the token first: the handler gets the whole upload", user,
			[][2]string{{CSRFField, token}, {"note", "hello"}, {"file", file}}, http.StatusOK, "token=true note=5 file=3145728", 64 << 10},
		{"the token after a large file: refused, the limit read", user,
			[][2]string{{"file", file}, {CSRFField, token}}, http.StatusForbidden, "within the first 1048576 bytes", csrfFormLimit + 1},
		{"the token after a small file: the handler gets it all", user,
			[][2]string{{"file", "small"}, {CSRFField, token}}, http.StatusOK, "token=true note=0 file=5", 64 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			contentType, body := multipartForm(t, tc.fields...)
			seen, answer := u.post(tc.cl, contentType, body)
			assert.Equal(t, tc.status, seen.status)
			if answer != "" {
				assert.Contains(t, answer, tc.answer)
			}
			readByCSRF := seen.read
			if seen.readBeforeHandler >= 0 {
				readByCSRF = seen.readBeforeHandler
				assert.Zero(t, seen.tempBeforeHandler, "CSRF wrote a temporary file")
			} else {
				assert.Zero(t, seen.temp, "CSRF wrote a temporary file")
			}
			assert.LessOrEqual(t, readByCSRF, tc.read, "bytes of the body read before the answer or the handler")
		})
	}
	assert.Empty(t, stranger.cookie(), "a refused stranger got no session")
}

// A URL-encoded form is read as far as the token too, and the handler
// still finds every field.
func TestCSRFFindsTheTokenOfAURLEncodedFormAndLeavesTheFormWhole(t *testing.T) {
	u := newUploadApp(t)
	user := u.client()
	token := user.formToken()
	note := strings.Repeat("n", 200<<10)
	for _, tc := range []struct {
		name   string
		form   string
		status int
		answer string
	}{
		{"the token first", url.Values{CSRFField: {token}}.Encode() + "&" + url.Values{"note": {note}}.Encode(), http.StatusOK, "token=true note=204800"},
		{"the token last", url.Values{"note": {note}}.Encode() + "&" + url.Values{CSRFField: {token}}.Encode(), http.StatusOK, "token=true note=204800"},
		{"the token past the limit", url.Values{"note": {strings.Repeat(note, 6)}}.Encode() + "&" + url.Values{CSRFField: {token}}.Encode(), http.StatusForbidden, "within the first"},
		{"the token cut by the limit", "pad=" + strings.Repeat("p", csrfFormLimit-len("pad=&csrf_token=")-10) + "&" + url.Values{CSRFField: {token}}.Encode(), http.StatusForbidden, "within the first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen, answer := u.post(user, "application/x-www-form-urlencoded", []byte(tc.form))
			assert.Equal(t, tc.status, seen.status)
			if answer != "" {
				assert.Contains(t, answer, tc.answer)
			}
			assert.LessOrEqual(t, seen.readBeforeHandler, int64(csrfFormLimit+1))
		})
	}
}

// TRACE is safe by RFC 9110, but a handler registered with r.Any runs for
// it: it is checked like POST, not waved through.
func TestCSRFChecksTRACELikeAnyUnsafeMethod(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.Use(CSRF())
		basicRoutes(r)
		r.GET("/form", func(c *gin.Context) { c.String(http.StatusOK, Default(c).CSRFToken()) })
		r.Any("/change", func(c *gin.Context) {
			Default(c).Set("changed", c.Request.Method)
			c.String(http.StatusOK, "changed")
		})
	})
	cl := a.client()
	token := cl.formToken()
	for _, method := range []string{http.MethodTrace, http.MethodPost, "PURGE"} {
		resp := cl.send(method, "/change", nil, nil)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, method)
		assert.Contains(t, resp.body, "missing CSRF token", method)
	}
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=changed").StatusCode, "a refused request changed the session")

	resp := cl.send(http.MethodTrace, "/change", nil, http.Header{CSRFHeader: {token}})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "with the session's token: %s", resp.body)
	assert.Equal(t, http.MethodTrace, cl.get("/get?k=changed").body)
}
