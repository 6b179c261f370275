package ginsession

import (
	"bufio"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
)

// writer wraps Gin's ResponseWriter so that the session is saved, and its
// cookie set, at the last moment the headers can still change: just before
// they are sent. It never buffers the body.
type writer struct {
	gin.ResponseWriter
	s     *Session
	state writerState
}

type writerState uint8

const (
	// headersOpen: nothing has gone out yet.
	headersOpen writerState = iota
	// headersSent: the session was committed and the headers went out.
	headersSent
	// errorResponse: the error handler is writing its response.
	errorResponse
	// discarding: the error handler answered; the route's output is dropped.
	discarding
)

// beforeHeaders commits the session once, as the headers are about to go out.
// If the commit fails, the error handler's response replaces the route's.
func (w *writer) beforeHeaders() {
	if w.state != headersOpen {
		return
	}
	w.state = headersSent
	if w.ResponseWriter.Written() {
		return // someone wrote past us; too late for a cookie
	}
	if err := w.s.commitBeforeHeaders(w.Header()); err != nil {
		w.respondError(err)
	}
}

func (w *writer) respondError(err error) {
	w.state = errorResponse
	// The route may already have described its own body.
	h := w.Header()
	h.Del("Content-Type")
	h.Del("Content-Length")
	h.Del("Content-Disposition")
	h.Del("Content-Encoding")
	c := w.s.c
	_ = c.Error(err)
	c.Abort()
	w.s.store.cfg.errorHandler(c, err)
	w.ResponseWriter.WriteHeaderNow()
	w.state = discarding
}

func (w *writer) WriteHeader(code int) {
	if w.state == discarding {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) WriteHeaderNow() {
	w.beforeHeaders()
	if w.state == discarding {
		return
	}
	w.ResponseWriter.WriteHeaderNow()
}

func (w *writer) Write(b []byte) (int, error) {
	w.beforeHeaders()
	if w.state == discarding {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *writer) WriteString(s string) (int, error) {
	w.beforeHeaders()
	if w.state == discarding {
		return len(s), nil
	}
	return w.ResponseWriter.WriteString(s)
}

func (w *writer) Flush() {
	w.beforeHeaders()
	if w.state == discarding {
		return
	}
	w.ResponseWriter.Flush()
}

// Hijack hands the connection over; the handler writes its own headers from
// then on, so the session is saved first and a cookie it needed is reported
// as not sent.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.state == headersOpen {
		w.state = headersSent
		w.s.commitAfterHeaders()
	}
	return w.ResponseWriter.Hijack()
}

// Unwrap lets http.ResponseController reach the connection's writer for the
// calls that send nothing (deadlines); Flush goes through this writer.
func (w *writer) Unwrap() http.ResponseWriter {
	if u, ok := w.ResponseWriter.(interface{ Unwrap() http.ResponseWriter }); ok {
		return u.Unwrap()
	}
	return w.ResponseWriter
}
