// Package ginsession gives Gin applications server-side sessions kept in
// their own database through GORM, in the manner of Django's: the cookie
// carries only an opaque token, the data lives in a table, and a changed
// session saves itself just before the response headers go out.
//
//	r.Use(ginsession.New(db))
//	ginsession.Default(c).Set("username", "Alice")
//	name, _ := ginsession.Get[string](ginsession.Default(c), "username")
//
// A session is loaded only when a handler uses it and written only when it
// changed: a route that never touches it runs no SQL, a read runs one SELECT
// and a write one more UPDATE. Concurrent requests of one session merge their
// changes key by key, and a session destroyed by one request is never brought
// back by another.
package ginsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"
)

// New migrates the session table in db and returns the middleware that
// attaches a session to every request. It panics when the options are
// invalid or the table cannot be migrated, since the application cannot
// serve sessions without it; use NewStore to handle that error yourself.
func New(db *gorm.DB, opts ...Option) gin.HandlerFunc {
	st, err := NewStore(db, opts...)
	if err != nil {
		hint := "check the database connection"
		if errors.Is(err, errInvalidOptions) {
			hint = "fix the options"
		}
		panic(err.Error() + " (" + hint + ", or call NewStore to handle the error)")
	}
	return st.Handler()
}

// Default returns the request's session. It panics when the middleware is
// not installed on the route, which is a programming error. Once the
// session has failed to load or save, Default(c) also stops the handlers
// after the current one (c.Abort), as the error handler answers.
func Default(c *gin.Context) *Session {
	if s, ok := FromContext(c.Request.Context()); ok {
		s.abortChain(c)
		return s
	}
	panic("ginsession: no session in this request: add r.Use(ginsession.New(db)) before the routes that call ginsession.Default")
}

// FromContext returns the session that the middleware put into a request's
// context, for code that holds c.Request.Context() rather than the
// *gin.Context.
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*Session)
	return s, ok
}

func (st *Store) handle(c *gin.Context) {
	if st.installedAbove(c) {
		// The same middleware runs twice (r.Use and a group's Use): one
		// request has one session, or the inner one's cookie and row would
		// split a new visitor in two.
		c.Next()
		return
	}
	st.maybeCleanup()
	s := &Session{store: st, c: c, req: c.Request, route: c.FullPath()}
	if h := c.Writer.Header(); len(h) > 0 {
		s.baseHeader = h.Clone()
	}
	s.w.ResponseWriter, s.w.s = c.Writer, s
	s.ctx = sessionContext{Context: c.Request.Context(), s: s}
	c.Request = c.Request.WithContext(&s.ctx)
	c.Writer = &s.w

	finished := false
	defer func() {
		if !finished {
			// A panic (or runtime.Goexit) is on its way out: save nothing and
			// let gin.Recovery answer through Gin's own writer.
			s.mu.Lock()
			s.frozen, s.ended = true, true
			s.mu.Unlock()
			c.Writer = s.w.ResponseWriter
		}
	}()
	c.Next()
	finished = true

	if s.w.state.Load() == headersOpen {
		// The handler wrote nothing (or only a status): Gin sends the
		// headers after this returns, so commit now.
		s.w.beforeHeaders()
	} else if !s.w.discarding() {
		s.commitAfterHeaders()
	}
	s.endRenewal()
	c.Writer = s.w.ResponseWriter
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
}

// commitBeforeHeaders saves the session and writes its cookie and Vary into
// h. It returns an error only when the error handler must answer.
func (s *Session) commitBeforeHeaders(h http.Header) error {
	defer s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded && s.err == nil {
		return nil // never touched
	}
	if err := s.commit(true); err != nil && !s.errReported {
		s.errReported = true
		return err
	}
	s.writeHeaders(h)
	return nil
}

// commitAfterHeaders saves what changed while the body was being written.
// Nothing can reach the client any more, so errors go to the log and
// c.Errors.
func (s *Session) commitAfterHeaders() {
	if err := s.commitLate(); err != nil {
		_ = s.c.Error(err)
		s.store.cfg.logger.ErrorContext(s.ctx.Context, "session change after the response headers went out",
			"error", err, "method", s.req.Method, "path", s.req.URL.Path)
	}
}

// commitLate commits with the headers gone and returns what the application
// must hear of: any error not reported yet, and a cookie that was due but
// can no longer be sent.
func (s *Session) commitLate() error {
	defer s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.commit(false)
	if s.state != nil && s.header {
		s.cookie = cookieKeep // a header session needs no cookie
		if s.leftCookie != "" {
			s.cookie, s.leftCookie = s.leftOp, "" // the browser's own session's was due
		}
	}
	if err == nil {
		switch s.cookie {
		case cookieSet:
			err = fmt.Errorf("%w: cookie of a saved session", ErrCookieNotSent)
		case cookieExpire:
			err = fmt.Errorf("%w: destroyed session's cookie not expired", ErrCookieNotSent)
		}
	}
	s.cookie = cookieKeep
	if s.err != nil {
		if s.errReported {
			return nil
		}
		s.errReported = true
	}
	return err
}

// installedAbove reports whether a session middleware for the same cookie
// and table already attached a session to this request.
func (st *Store) installedAbove(c *gin.Context) bool {
	var outer *Session
	if w, ok := c.Writer.(*writer); ok {
		outer = w.s
	} else if s, ok := FromContext(c.Request.Context()); ok {
		outer = s // another writer wraps ours
	}
	return outer != nil && (outer.store == st ||
		outer.store.cfg.cookieName == st.cfg.cookieName && outer.store.cfg.tableName == st.cfg.tableName)
}
