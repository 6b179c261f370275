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
	"slices"
	"strings"

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

// apiHandlerName ends the name Gin reports for APIHandler's middleware (a
// method value), of any store.
const apiHandlerName = "/ginsession.(*Store).apiHandle-fm"

// apiRoute reports whether c's route runs APIHandler. The route's handlers
// are fixed before the first runs, so the answer is too; it is asked only
// when the session is first used, and costs a look at each handler's name.
func apiRoute(c *gin.Context) bool {
	if c == nil {
		return false
	}
	return slices.ContainsFunc(c.HandlerNames(), func(name string) bool { return strings.HasSuffix(name, apiHandlerName) })
}

// APIHandler returns the middleware for the routes of API clients, which
// carry their session in WithTokenHeader's header: on its routes every
// request is a header request, whether or not it brings a token. Cookies
// are never read there and never set, so nothing a handler does on them
// (Login, IssueToken, Destroy) can reach a browser's cookie session, and a
// form forged from another site finds no session to act on. Put the API's
// login, which calls Login and IssueToken, under it:
//
//	r.Use(st.Handler())
//	api := r.Group("/api", st.APIHandler())
//
// Handler above it sees that the route runs APIHandler and fixes the
// request's kind before any handler runs, so a CSRF installed for the whole
// router lets the API's requests through, as it does any header request.
// APIHandler can also stand alone, without Handler above it. It panics at
// once when the store has no WithTokenHeader.
func (st *Store) APIHandler() gin.HandlerFunc {
	st.needTokenHeader("APIHandler")
	return st.apiHandle
}

func (st *Store) apiHandle(c *gin.Context) { st.handle(c, true) }

// handle attaches a session to the request and saves it as the response
// goes out. api marks an APIHandler route: a header request whatever it
// carries.
func (st *Store) handle(c *gin.Context, api bool) {
	if outer := st.installedAbove(c); outer != nil {
		// The same middleware runs twice (r.Use and a group's Use): one
		// request has one session, or the inner one's cookie and row would
		// split a new visitor in two.
		if api {
			outer.becomeHeader()
		}
		c.Next()
		return
	}
	st.maybeCleanup()
	s := &Session{store: st, c: c, req: c.Request, route: c.FullPath()}
	if st.tokenHeaderKey != "" {
		// The kind follows from what the request carries and from its
		// route; the route is looked at only if the session is used.
		_, carried := st.headerToken(c.Request)
		s.header = api || carried
		s.kindPending = !s.header
	}
	if h := c.Writer.Header(); len(h) > 0 {
		s.baseHeader = h.Clone()
	}
	s.w.ResponseWriter, s.w.s = c.Writer, s
	s.ctx = sessionContext{Context: c.Request.Context(), s: s}
	s.inner = *c.Request.WithContext(&s.ctx) // the copy WithContext makes stays on the stack
	c.Request = &s.inner
	c.Writer = &s.w

	finished := false
	defer func() {
		if !finished {
			// A panic (or runtime.Goexit) is on its way out: save nothing and
			// let gin.Recovery answer through Gin's own writer. A renewal
			// this request saved still ends with it.
			s.endRenewal()
			s.mu.Lock()
			s.frozen, s.ended = true, true
			s.mu.Unlock()
			c.Writer = s.w.ResponseWriter
		}
	}()
	c.Next()
	finished = true

	s.mu.Lock()
	untouched := s.state == nil && s.err == nil
	if untouched {
		// Never used: there is nothing to save, no cookie or Vary to send
		// and no renewal to end, so one look under the lock does.
		s.ended = true
	}
	s.mu.Unlock()
	if untouched {
		c.Writer = s.w.ResponseWriter
		return
	}
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
	if s.header {
		s.cookie = cookieKeep // a header session needs no cookie
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

// installedAbove returns the session that a session middleware for the
// same cookie and table already attached to this request, or nil.
func (st *Store) installedAbove(c *gin.Context) *Session {
	var outer *Session
	if w, ok := c.Writer.(*writer); ok {
		outer = w.s
	} else if s, ok := FromContext(c.Request.Context()); ok {
		outer = s // another writer wraps ours
	}
	if outer != nil && (outer.store == st ||
		outer.store.cfg.cookieName == st.cfg.cookieName && outer.store.cfg.tableName == st.cfg.tableName) {
		return outer
	}
	return nil
}

// becomeHeader makes the session of a request that reached an APIHandler
// route a header session. It panics if a handler before APIHandler already
// used it as a cookie session: the kind is fixed before the handlers run.
func (s *Session) becomeHeader() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.header {
		return
	}
	s.kindPending = false
	if s.state != nil || s.err != nil {
		panic("ginsession: the session was used before APIHandler: install APIHandler on the API group before any middleware that uses the session (CSRF, authentication)")
	}
	s.header = true
}
