package ginsession

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Defaults, as Django's where Django has one.
const (
	// DefaultCookieName is the session cookie's name.
	DefaultCookieName = "session_id"
	// DefaultIdleTimeout is how long a session lives after its last use.
	DefaultIdleTimeout = 14 * 24 * time.Hour
	// DefaultMaxSize bounds the encoded size of one session's data.
	DefaultMaxSize = 64 << 10
	// DefaultCleanupInterval is how often the middleware deletes expired rows.
	DefaultCleanupInterval = time.Hour
	// DefaultRememberTimeout is the idle window of a session after
	// RememberMe(true).
	DefaultRememberTimeout = 30 * 24 * time.Hour
	// DefaultBrowserSessionTimeout is the idle window of a session after
	// RememberMe(false).
	DefaultBrowserSessionTimeout = 2 * time.Hour
	// DefaultPoolWait is how long a session statement waits for a connection
	// when the pool has none free.
	DefaultPoolWait = 10 * time.Second
)

// An Option changes one setting of a Store. Pass options to New or NewStore.
type Option func(*config)

type config struct {
	cookieName      string
	cookiePath      string
	cookieDomain    string
	secure          *bool // nil: Secure when the browser used HTTPS (requestHTTPS)
	sameSite        http.SameSite
	sameSiteSet     bool
	partitioned     bool
	persistent      bool
	lifetime        time.Duration
	idleTimeout     time.Duration
	rememberTimeout time.Duration
	browserTimeout  time.Duration
	tokenHeader     string
	tableName       string
	codec           Codec
	errorHandler    func(*gin.Context, error)
	logger          *slog.Logger
	maxSize         int
	cleanupInterval time.Duration
	now             func() time.Time
	userAgent       bool
	clientIP        bool
	lastSeen        time.Duration // 0: as often as the expiry moves
	gormCallbacks   bool
	poolWait        time.Duration
	keys            [][]byte
	encrypt         bool // WithEncryption was given, keys or not
	events          func(context.Context, Event)
}

func defaultConfig() config {
	return config{
		cookieName:      DefaultCookieName,
		cookiePath:      "/",
		sameSite:        http.SameSiteLaxMode,
		persistent:      true,
		idleTimeout:     DefaultIdleTimeout,
		rememberTimeout: DefaultRememberTimeout,
		browserTimeout:  DefaultBrowserSessionTimeout,
		tableName:       DefaultTableName,
		codec:           JSONCodec{},
		maxSize:         DefaultMaxSize,
		cleanupInterval: DefaultCleanupInterval,
		now:             time.Now,
		poolWait:        DefaultPoolWait,
	}
}

func (c *config) validate() error {
	var errs []error
	if !httpToken(c.cookieName) {
		errs = append(errs, fmt.Errorf("cookie name %q is not a valid HTTP token", c.cookieName))
	}
	if c.lifetime < 0 || c.idleTimeout < 0 {
		errs = append(errs, errors.New("lifetime and idle timeout must not be negative"))
	}
	if c.encrypt && len(c.keys) == 0 {
		// Keys read from an unset variable must not mean plaintext.
		errs = append(errs, errors.New("WithEncryption needs at least one key"))
	}
	if c.rememberTimeout <= 0 || c.browserTimeout <= 0 {
		errs = append(errs, errors.New("remember and browser-session timeouts must be positive"))
	}
	if c.tokenHeader != "" && !httpToken(c.tokenHeader) {
		errs = append(errs, fmt.Errorf("token header %q is not a valid header name", c.tokenHeader))
	}
	if c.lifetime == 0 && c.idleTimeout == 0 {
		errs = append(errs, errors.New("set WithLifetime or WithIdleTimeout: a session must expire"))
	}
	if !plainTableName(c.tableName) {
		// It is written into SQL as it is (quoted), so nothing but a plain
		// name is let through.
		errs = append(errs, fmt.Errorf("table name %q is not a plain identifier: use letters, digits and _, optionally as schema.table", c.tableName))
	}
	if c.codec == nil {
		errs = append(errs, errors.New("codec must not be nil"))
	}
	if c.maxSize <= 0 {
		errs = append(errs, fmt.Errorf("max size must be positive, got %d", c.maxSize))
	}
	sample := http.Cookie{Name: c.cookieName, Value: "x", Path: c.cookiePath, Domain: c.cookieDomain}
	if err := sample.Valid(); err != nil && !strings.Contains(err.Error(), "Name") {
		errs = append(errs, fmt.Errorf("cookie path or domain: %w", err))
	}
	if c.sameSite == http.SameSiteNoneMode && !c.partitioned && (c.secure == nil || !*c.secure) {
		errs = append(errs, errors.New("browsers drop a SameSite=None cookie that is not Secure: add WithSecure(true)"))
	}
	if c.partitioned && c.secure != nil && !*c.secure {
		errs = append(errs, errors.New("a partitioned cookie must be Secure: drop WithSecure(false)"))
	}
	if c.partitioned {
		// CHIPS is for a cross-site iframe, which gets only SameSite=None
		// cookies.
		if !c.sameSiteSet {
			c.sameSite = http.SameSiteNoneMode
		} else if c.sameSite != http.SameSiteNoneMode {
			errs = append(errs, errors.New("a partitioned cookie is sent only to a cross-site iframe, which a SameSite=Lax or Strict cookie never reaches: drop WithSameSite or use http.SameSiteNoneMode"))
		}
	}
	errs = append(errs, c.checkPrefix()...)
	if c.poolWait < 0 {
		errs = append(errs, errors.New("pool wait must not be negative"))
	}
	if c.lastSeen < 0 {
		errs = append(errs, errors.New("last-seen interval must not be negative"))
	}
	if c.now == nil {
		errs = append(errs, errors.New("clock must not be nil"))
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.errorHandler == nil {
		c.errorHandler = defaultErrorHandler(c.logger)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", errInvalidOptions, err)
	}
	return nil
}

// httpToken reports whether name is an HTTP token, as cookie and header
// names must be.
func httpToken(name string) bool {
	return name != "" && !strings.ContainsFunc(name, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r)
	})
}

// errInvalidOptions is what NewStore's error wraps when an option is wrong,
// so that New's panic can say to fix the options, not the connection.
var errInvalidOptions = errors.New("ginsession: invalid options")

// plainTableName reports whether name is an identifier, or two joined by a
// dot (schema.table).
func plainTableName(name string) bool {
	schema, table, dotted := strings.Cut(name, ".")
	if !dotted {
		return identifier(schema)
	}
	return identifier(schema) && identifier(table)
}

func identifier(s string) bool {
	if s == "" || len(s) > 63 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
}

// checkPrefix enforces what browsers demand of a cookie whose name starts
// with __Host- or __Secure-: they silently drop one that lacks it. Secure is
// switched on for such a name unless WithSecure(false) asked otherwise.
func (c *config) checkPrefix() []error {
	host := hasPrefixFold(c.cookieName, "__Host-")
	if !host && !hasPrefixFold(c.cookieName, "__Secure-") {
		return nil
	}
	prefix := "__Secure-"
	if host {
		prefix = "__Host-"
	}
	var errs []error
	if c.secure != nil && !*c.secure {
		errs = append(errs, fmt.Errorf("browsers accept a %s cookie only with Secure: drop WithSecure(false) or rename the cookie", prefix))
	}
	secure := true
	c.secure = &secure
	if host && c.cookiePath != "/" {
		errs = append(errs, fmt.Errorf("browsers accept a __Host- cookie only with Path=/, not %q: drop WithCookiePath or rename the cookie", c.cookiePath))
	}
	if host && c.cookieDomain != "" {
		errs = append(errs, errors.New("browsers accept a __Host- cookie only without Domain: drop WithCookieDomain or rename the cookie"))
	}
	return errs
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// WithCookieName sets the session cookie's name. Default "session_id". A
// name that starts with __Host- (the strongest: no sibling subdomain can set
// it) or __Secure- makes the cookie Secure; for __Host-, WithCookiePath and
// WithCookieDomain must be left alone. Settings browsers would reject are
// refused at start-up.
func WithCookieName(name string) Option { return func(c *config) { c.cookieName = name } }

// WithCookiePath sets the cookie's Path attribute. Default "/".
func WithCookiePath(path string) Option { return func(c *config) { c.cookiePath = path } }

// WithCookieDomain sets the cookie's Domain attribute. Default empty: the
// cookie goes only to the host that set it.
func WithCookieDomain(domain string) Option { return func(c *config) { c.cookieDomain = domain } }

// WithSecure forces the cookie's Secure attribute on or off, whatever the
// request. By default it is on when the request came over TLS, or when a
// proxy that the Gin engine trusts (SetTrustedProxies with
// ForwardedByClientIP on, as c.ClientIP trusts it, or its TrustedPlatform)
// says https in X-Forwarded-Proto or Forwarded; these headers from any
// other sender are ignored.
func WithSecure(secure bool) Option { return func(c *config) { c.secure = &secure } }

// WithSameSite sets the cookie's SameSite attribute. Default
// http.SameSiteLaxMode.
func WithSameSite(mode http.SameSite) Option {
	return func(c *config) { c.sameSite, c.sameSiteSet = mode, true }
}

// WithPartitioned sets the cookie's Partitioned attribute (CHIPS), for a
// session used inside a third-party iframe. Default false. A partitioned
// cookie is always sent Secure and, unless WithSameSite says otherwise,
// SameSite=None; WithSameSite(Lax or Strict) with it is refused, since the
// iframe would never get the cookie.
func WithPartitioned(partitioned bool) Option {
	return func(c *config) { c.partitioned = partitioned }
}

// WithPersistentCookie chooses whether the cookie outlives the browser.
// Default true: it carries a Max-Age that follows the session's expiry. With
// false the browser drops the cookie when it closes (the row still expires as
// configured).
func WithPersistentCookie(persistent bool) Option {
	return func(c *config) { c.persistent = persistent }
}

// WithLifetime sets an absolute lifetime: a session dies this long after
// its last sign-in (Login), or after it was created if nobody signed in,
// however active. Rows written under a longer lifetime end by the new one.
// Default 0: no absolute limit.
func WithLifetime(d time.Duration) Option { return func(c *config) { c.lifetime = d } }

// WithIdleTimeout sets the sliding expiry: a session dies this long after its
// last use. Default two weeks. 0 turns sliding expiry off (then set
// WithLifetime). Reads move the expiry forward only once a tenth of the
// window has passed, so a read-only request rarely writes.
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idleTimeout = d } }

// WithRememberTimeout sets the idle window of a session after
// RememberMe(true): it lives this long after its last use, with a
// persistent cookie. Default 30 days.
func WithRememberTimeout(d time.Duration) Option {
	return func(c *config) { c.rememberTimeout = d }
}

// WithBrowserSessionTimeout sets the idle window of a session after
// RememberMe(false): its cookie dies with the browser, and the row this long
// after its last use. Default 2 hours.
func WithBrowserSessionTimeout(d time.Duration) Option {
	return func(c *config) { c.browserTimeout = d }
}

// WithTokenHeader lets API clients carry their session in a request header
// instead of a cookie: "Authorization" for "Authorization: Bearer <token>",
// any other name for the bare token. Default "": cookies only. A request
// that carries the header is a header request whatever cookies it has: its
// session comes from the header alone, its response sets no cookie, and
// CSRF checks skip it. Header and cookie sessions share the table and the
// user calls, but a token of one kind is never accepted as the other. A
// handler hands a client its token with Session.IssueToken.
func WithTokenHeader(name string) Option { return func(c *config) { c.tokenHeader = name } }

// WithTableName sets the session table's name. Default "gin_sessions". It
// must be a plain identifier (letters, digits, _), or schema.table.
func WithTableName(name string) Option { return func(c *config) { c.tableName = name } }

// WithCodec sets how values are encoded. Default JSONCodec.
func WithCodec(codec Codec) Option { return func(c *config) { c.codec = codec } }

// WithErrorHandler sets what answers a request whose session failed to load
// or save before the response headers went out. The handler should write a
// response; whatever the route handler writes afterwards is discarded. The
// default logs the error and answers 500 Internal Server Error, 409
// Conflict for ErrSessionInterrupted, 503 Service Unavailable with
// Retry-After: 1 for ErrConflict, or 401 Unauthorized with
// WWW-Authenticate: Bearer error="invalid_token" for ErrTokenNotIssued.
func WithErrorHandler(h func(c *gin.Context, err error)) Option {
	return func(c *config) { c.errorHandler = h }
}

// WithLogger sets where the store logs. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxSize bounds the encoded size in bytes of one session's data; Set
// with a larger value, or a save of a larger session, fails with ErrTooLarge.
// Default 64 KiB.
func WithMaxSize(n int) Option { return func(c *config) { c.maxSize = n } }

// WithCleanupInterval sets how often the middleware starts a background
// deletion of expired rows, from a request, in a goroutine that ends when the
// deletion does. Default one hour; 0 turns it off (call Store.Cleanup
// yourself).
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) { c.cleanupInterval = d }
}

// WithRecordUserAgent stores each session's User-Agent header (cut to 512
// bytes), for a page that lists a user's devices. Default false: it is
// personal data.
func WithRecordUserAgent(record bool) Option { return func(c *config) { c.userAgent = record } }

// WithRecordClientIP stores each session's client address, as Gin's
// c.ClientIP gives it (so it honours the engine's trusted proxies). Default
// false: it is personal data. It is refreshed with the last-seen time.
func WithRecordClientIP(record bool) Option { return func(c *config) { c.clientIP = record } }

// WithLastSeenInterval sets how stale a session's last-seen time may grow
// before a read-only request writes it. Default 0: it moves only with the
// expiry (every tenth of the idle window) and with every save, so reads cost
// no extra write. A "your devices" page wants a few minutes.
func WithLastSeenInterval(d time.Duration) Option { return func(c *config) { c.lastSeen = d } }

// WithGORMCallbacks runs the store's statements through GORM's callbacks
// even when the *gorm.DB has no plugins, for callbacks an application
// registered by hand. Default false: the store takes that detour on its own
// when db.Plugins is not empty (dbresolver, opentelemetry, prometheus, ...),
// and otherwise runs its statements straight on the connection pool, which
// costs less per request. Either way the GORM logger sees every statement.
func WithGORMCallbacks(on bool) Option { return func(c *config) { c.gormCallbacks = on } }

// WithPoolWait bounds how long a session statement waits for a free
// connection when every connection of the *gorm.DB's pool (SetMaxOpenConns)
// is in use, and then fails with ErrPoolExhausted instead of waiting
// forever: a response written inside the application's own transaction on
// a small pool would otherwise hang, its save waiting for the connection the
// transaction holds. Default 10 seconds; 0 waits as long as the request's
// context allows. Statements that found a free connection are not bounded.
func WithPoolWait(d time.Duration) Option { return func(c *config) { c.poolWait = d } }

// WithClock sets the store's clock. Default time.Now. Tests use it to move
// time forward; every expiry the store writes or compares comes from it.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }
