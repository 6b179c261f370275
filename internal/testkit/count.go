package testkit

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
)

// Counter records every statement that reaches a database driver through a
// connector made by Count, BEGIN and COMMIT included.
type Counter struct {
	// Quiet makes the counter only count, keeping no statement text, for
	// benchmarks that run millions of statements.
	Quiet bool

	total atomic.Int64
	mu    sync.Mutex
	stmts []string
}

func (c *Counter) add(q string) {
	c.total.Add(1)
	if c.Quiet {
		return
	}
	c.mu.Lock()
	c.stmts = append(c.stmts, q)
	c.mu.Unlock()
}

// Total returns how many statements the counter has seen.
func (c *Counter) Total() int64 { return c.total.Load() }

// Take returns the statements recorded since the last Take and forgets them.
func (c *Counter) Take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stmts
	c.stmts = nil
	return s
}

// Kinds returns the first word of each statement, upper-cased; for MariaDB's
// "SET STATEMENT var=value FOR statement", the first word of statement.
func Kinds(stmts []string) []string {
	out := make([]string, 0, len(stmts))
	for _, s := range stmts {
		f := strings.Fields(s)
		if len(f) > 1 && strings.EqualFold(f[0], "SET") && strings.EqualFold(f[1], "STATEMENT") {
			for i, w := range f {
				if strings.EqualFold(w, "FOR") && i+1 < len(f) {
					f = f[i+1:]
					break
				}
			}
		}
		if len(f) > 0 {
			out = append(out, strings.ToUpper(f[0]))
		}
	}
	return out
}

// Count wraps a driver's connector so that c sees every statement.
func Count(inner driver.Connector, c *Counter) driver.Connector {
	return &connector{inner: inner, c: c}
}

// DSNConnector makes a connector of a driver and a DSN.
func DSNConnector(d driver.Driver, dsn string) driver.Connector { return dsnConnector{d, dsn} }

type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

type connector struct {
	inner driver.Connector
	c     *Counter
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	inner, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: inner, c: c.c}, nil
}

func (c *connector) Driver() driver.Driver { return c.inner.Driver() }

type conn struct {
	driver.Conn
	c *Counter
}

func (c *conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	res, err := e.ExecContext(ctx, q, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.c.add(q)
	}
	return res, err
}

func (c *conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	qr, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := qr.QueryContext(ctx, q, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.c.add(q)
	}
	return rows, err
}

func (c *conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, q)
	} else {
		st, err = c.Conn.Prepare(q)
	}
	if err != nil {
		return nil, err
	}
	return &stmt{Stmt: st, q: q, c: c.c}, nil
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		//lint:ignore SA1019 database/sql falls back to Begin the same way
		tx, err = c.Conn.Begin()
	}
	if err != nil {
		return nil, err
	}
	c.c.add("BEGIN")
	return tx2{Tx: tx, c: c.c}, nil
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type tx2 struct {
	driver.Tx
	c *Counter
}

func (t tx2) Commit() error   { t.c.add("COMMIT"); return t.Tx.Commit() }
func (t tx2) Rollback() error { t.c.add("ROLLBACK"); return t.Tx.Rollback() }

type stmt struct {
	driver.Stmt
	q string
	c *Counter
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.add(s.q)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, errors.New("testkit: driver statement lacks ExecContext")
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.add(s.q)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, errors.New("testkit: driver statement lacks QueryContext")
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
