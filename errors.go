package ginsession

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Errors a handler can meet through the error handler, through Save, or in
// c.Errors. Each is wrapped with context; test for them with errors.Is.
var (
	// ErrSessionInterrupted means the session was destroyed (a logout, a
	// revocation, an ID renewal on another request) while this request was
	// using it. This request's changes are dropped rather than bringing the
	// session back. The default error handler answers 409 Conflict.
	ErrSessionInterrupted = errors.New("ginsession: session was destroyed by a concurrent request")

	// ErrLoad means the session could not be read from the database. The
	// request is not treated as anonymous, since that would log the user out
	// and let a later save overwrite their data.
	ErrLoad = errors.New("ginsession: cannot load session")

	// ErrSave means the session could not be written to the database.
	ErrSave = errors.New("ginsession: cannot save session")

	// ErrEncode means a value given to Set or AddFlash could not be encoded by
	// the codec. The message names the key and the Go type.
	ErrEncode = errors.New("ginsession: cannot encode value")

	// ErrTooLarge means a value or the whole encoded session is larger than
	// the limit set by WithMaxSize.
	ErrTooLarge = errors.New("ginsession: session data too large")

	// ErrConflict means a statement kept losing to concurrent ones and gave
	// up after a bounded number of attempts: saves of one session racing each
	// other, or the database's own transient conflicts (deadlocks, lock wait
	// timeouts, serialization failures at SERIALIZABLE, a Galera cluster's
	// certification failures), each of which is retried with a jittered
	// pause first. The default error handler answers 503 Service Unavailable
	// with Retry-After: 1.
	ErrConflict = errors.New("ginsession: too many concurrent writes to one session")

	// ErrCookieNotSent means the session changed in a way that needs a new
	// cookie (a new session, an ID renewal, a Destroy) after the response
	// headers had gone out, so the browser could not be told. Data that could
	// be saved without the cookie was saved. Call Save before streaming.
	ErrCookieNotSent = errors.New("ginsession: response headers already sent, session cookie not updated")

	// ErrPoolExhausted means a session statement found no free connection
	// in the *gorm.DB's pool for WithPoolWait while every one was in use. The
	// usual cause is a response written inside the application's own
	// transaction (db.Transaction) on a small pool: the session's save waits
	// for the connection that transaction holds, which waits for the
	// response. Save the session (s.Save()) before entering the transaction.
	ErrPoolExhausted = errors.New("ginsession: no free database connection for the session")

	// ErrRequestEnded means the session was used after its middleware had
	// returned: from an outer middleware, or a goroutine that outlived the
	// request (one holding c.Copy(), say). Nothing is read or written; Err
	// and Save report it, and the log names the route.
	ErrRequestEnded = errors.New("ginsession: session used after its middleware returned; its request is over")

	// ErrTokenNotIssued means a header request (WithTokenHeader) created a
	// new session without calling IssueToken, so no client could ever
	// present it: nothing was saved. Its usual cause is a client whose
	// token is unknown or expired writing to its session, so the default
	// error handler answers 401 Unauthorized with WWW-Authenticate: Bearer
	// error="invalid_token" (RFC 6750), which tells the client to sign in
	// again; a route that should have called IssueToken gets the same
	// answer, and the log line.
	ErrTokenNotIssued = errors.New("ginsession: new session on a header request without IssueToken; not saved")

	// ErrNotHeaderRequest means IssueToken was called on a cookie request:
	// a browser's cookie session never becomes a header session. Put the
	// route under Store.APIHandler, or use MintToken.
	ErrNotHeaderRequest = errors.New("ginsession: not a header request")

	// ErrCSRF means CSRF refused an unsafe request: no token, a token that
	// does not match the session, no session, or a cross-site origin. The
	// wrapping error says which; CSRF adds it to c.Errors.
	ErrCSRF = errors.New("ginsession: CSRF check failed")

	// ErrReadOnly means a call that must save was made on a read-only
	// session, one from Store.ReadSession.
	ErrReadOnly = errors.New("ginsession: read-only session (from Store.ReadSession)")

	// ErrInvalidExpiry means a handler asked for an expiry that cannot be:
	// a negative idle timeout.
	ErrInvalidExpiry = errors.New("ginsession: invalid session expiry")
)

// defaultErrorHandler is WithErrorHandler's default: it logs err and
// answers with the status that fits it.
func defaultErrorHandler(logger *slog.Logger) func(*gin.Context, error) {
	return func(c *gin.Context, err error) {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, ErrSessionInterrupted):
			status = http.StatusConflict
		case errors.Is(err, ErrConflict):
			// Contention passes: the client may simply try again.
			status = http.StatusServiceUnavailable
			c.Header("Retry-After", "1")
		case errors.Is(err, ErrTokenNotIssued):
			// The client's token names no live session: its fault, and
			// fixed by signing in again, not by retrying. A 401 must say
			// how to authenticate; a header session is a bearer token
			// whatever header carries it.
			status = http.StatusUnauthorized
			c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		logger.ErrorContext(c.Request.Context(), "session error",
			"error", err, "method", c.Request.Method, "path", c.Request.URL.Path, "status", status)
		c.String(status, http.StatusText(status))
		c.Abort()
	}
}
