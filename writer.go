package ginsession

import (
	"bufio"
	"maps"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/gin-gonic/gin"
)

// writer wraps Gin's ResponseWriter so that the session is saved, and its
// cookie set, at the last moment the headers can still change: just before
// they are sent. It never buffers the body.
type writer struct {
	gin.ResponseWriter
	s     *Session
	state atomic.Uint32 // a writerState; Save may read it from another goroutine
}

type writerState = uint32

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
	if !w.state.CompareAndSwap(headersOpen, headersSent) {
		return
	}
	if w.ResponseWriter.Written() {
		w.s.commitAfterHeaders() // someone wrote past us: too late for a cookie
		return
	}
	if err := w.s.commitBeforeHeaders(w.Header()); err != nil {
		w.respondError(err)
	}
}

// respondError lets the error handler answer in place of the route: the
// headers go back to what they were before the chain ran, so that nothing the
// route set (a cookie, a Location, a cache policy) goes out with the error.
func (w *writer) respondError(err error) {
	w.state.Store(errorResponse)
	h := w.Header()
	clear(h)
	maps.Copy(h, w.s.baseHeader)
	c := w.s.c
	_ = c.Error(err)
	c.Abort()
	w.s.store.cfg.errorHandler(c, err)
	w.ResponseWriter.WriteHeaderNow()
	w.state.Store(discarding)
}

func (w *writer) discarding() bool { return w.state.Load() == discarding }

func (w *writer) WriteHeader(code int) {
	if w.discarding() {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) WriteHeaderNow() {
	w.beforeHeaders()
	if w.discarding() {
		return
	}
	w.ResponseWriter.WriteHeaderNow()
}

func (w *writer) Write(b []byte) (int, error) {
	w.beforeHeaders()
	if w.discarding() {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *writer) WriteString(s string) (int, error) {
	w.beforeHeaders()
	if w.discarding() {
		return len(s), nil
	}
	return w.ResponseWriter.WriteString(s)
}

func (w *writer) Flush() {
	w.beforeHeaders()
	if w.discarding() {
		return
	}
	w.ResponseWriter.Flush()
}

// Hijack hands the connection over; the handler writes its own headers from
// then on, so the session is saved first and a cookie it needed is reported
// as not sent.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.state.CompareAndSwap(headersOpen, headersSent) {
		w.s.commitAfterHeaders()
	}
	return w.ResponseWriter.Hijack()
}

// Unwrap lets http.ResponseController reach the writers below for the calls
// that send nothing (deadlines); its Flush comes through this writer.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
