package ginsession

import (
	"bytes"
	"context"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// traceLogger is a GORM logger that keeps every statement it is told of.
type traceLogger struct {
	logger.Interface
	mu    sync.Mutex
	calls []traced
}

type traced struct {
	sql  string
	rows int64
	err  error
}

func (l *traceLogger) LogMode(logger.LogLevel) logger.Interface { return l }

func (l *traceLogger) Trace(_ context.Context, _ time.Time, fc func() (string, int64), err error) {
	sql, rows := fc()
	l.mu.Lock()
	l.calls = append(l.calls, traced{sql, rows, err})
	l.mu.Unlock()
}

func (l *traceLogger) take() []traced {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

func TestGORMLoggerSeesEveryStatementWithValuesAndRows(t *testing.T) {
	db, rec := openDB(t)
	tl := &traceLogger{Interface: logger.Discard}
	db = db.Session(&gorm.Session{Logger: tl})
	a := newAppOn(t, db, rec, basicRoutes)
	cl := a.client()
	tl.take() // the migration's

	cl.get("/set?k=v")
	calls := tl.take()
	require.Len(t, calls, 1)
	assert.True(t, strings.HasPrefix(calls[0].sql, "INSERT INTO `gin_sessions`"), calls[0].sql)
	assert.Contains(t, calls[0].sql, `""values"":{""k"":""v""}`, "with its values, as GORM logs them")
	assert.Equal(t, int64(1), calls[0].rows)

	cl.get("/get?k=k")
	calls = tl.take()
	require.Len(t, calls, 1)
	assert.True(t, strings.HasPrefix(calls[0].sql, "SELECT data, user_id, expires_at, version, flags, idle_timeout, deadline FROM `gin_sessions`"), calls[0].sql)
	assert.Equal(t, int64(1), calls[0].rows)

	newClient := a.client()
	unknown, _ := newToken()
	newClient.setCookie(unknown)
	newClient.get("/get?k=k")
	calls = tl.take()
	require.Len(t, calls, 1)
	assert.Equal(t, int64(0), calls[0].rows, "an unknown ID reads no row")

	cl.get("/destroy")
	calls = tl.take()
	require.Len(t, calls, 1)
	assert.True(t, strings.HasPrefix(calls[0].sql, "DELETE FROM `gin_sessions`"), calls[0].sql)

	n, err := a.store.Cleanup(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Len(t, tl.take(), 1, "Cleanup's batch too")
}

func TestGORMLoggerWarnsOfSlowSessionStatementsAtTheAppsLevel(t *testing.T) {
	for _, tc := range []struct {
		level logger.LogLevel
		want  bool
	}{{logger.Warn, true}, {logger.Error, false}, {logger.Silent, false}} {
		db, rec := openDB(t)
		var buf bytes.Buffer
		var mu sync.Mutex
		gl := logger.New(log.New(lockedWriter{&mu, &buf}, "", 0), logger.Config{SlowThreshold: time.Nanosecond, LogLevel: tc.level})
		a := newAppOn(t, db.Session(&gorm.Session{Logger: gl}), rec, basicRoutes)
		cl := a.client()
		cl.get("/set?k=v")
		mu.Lock()
		buf.Reset()
		mu.Unlock()
		require.Equal(t, "v", cl.get("/get?k=k").body)
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		assert.Equal(t, tc.want, strings.Contains(out, "SLOW SQL") && strings.Contains(out, "gin_sessions"),
			"level %d: %q", tc.level, out)
	}
}

func TestSilentGORMLoggersAreNotHandedStatementsAndOthersAre(t *testing.T) {
	for _, tc := range []struct {
		name   string
		l      logger.Interface
		silent bool
	}{
		{"Discard", logger.Discard, true},
		{"Default at Silent", logger.Default.LogMode(logger.Silent), true},
		{"Default", logger.Default, false},
		{"Default at Error", logger.Default.LogMode(logger.Error), false},
		{"Default at Info", logger.Default.LogMode(logger.Info), false},
		{"an app's logger around Discard", &traceLogger{Interface: logger.Discard}, false},
		{"slog", logger.NewSlogLogger(slog.New(slog.DiscardHandler), logger.Config{}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &runner{}
			assert.Equal(t, tc.silent, r.silent(tc.l))
			assert.Equal(t, tc.silent, r.silent(tc.l), "asked again, from the kept verdict")
			if tc.silent {
				// What skipping relies on: GORM's logger at this level
				// never reads the statement, not even a failed, slow one.
				asked := false
				tc.l.Trace(context.Background(), time.Now().Add(-time.Hour), func() (string, int64) {
					asked = true
					return "", 0
				}, errors.New("failed"))
				assert.False(t, asked)
			}
		})
	}

	r := &runner{}
	require.True(t, r.silent(logger.Discard))
	assert.False(t, r.silent(logger.Default), "a swapped logger is looked at afresh")
	assert.True(t, r.silent(logger.Discard))
}

func TestTracingToASilentGORMLoggerAllocatesNothing(t *testing.T) {
	r := &runner{db: &gorm.DB{Config: &gorm.Config{Logger: logger.Discard}}}
	args := []any{"id", time.Now()}
	begin := time.Now()
	allocs := testing.AllocsPerRun(100, func() {
		r.trace(context.Background(), begin, "SELECT ?", args, 1, nil)
	})
	assert.Zero(t, allocs)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// spyPlugin is a GORM plugin that records what reaches the row and raw
// callbacks, as dbresolver and opentelemetry hook in.
type spyPlugin struct {
	mu    sync.Mutex
	sqls  []string
	write []bool // whether dbresolver would send it to the sources
}

func (p *spyPlugin) Name() string { return "spy" }

func (p *spyPlugin) Initialize(db *gorm.DB) error {
	record := func(db *gorm.DB) {
		_, write := db.Statement.Settings.Load(gormWrite)
		p.mu.Lock()
		p.sqls = append(p.sqls, db.Statement.SQL.String())
		p.write = append(p.write, write)
		p.mu.Unlock()
	}
	if err := db.Callback().Row().After("gorm:row").Register("spy:row", record); err != nil {
		return err
	}
	return db.Callback().Raw().After("gorm:raw").Register("spy:raw", record)
}

func (p *spyPlugin) take() ([]string, []bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, w := p.sqls, p.write
	p.sqls, p.write = nil, nil
	return s, w
}

func TestPluginsSeeTheStoresStatementsAsWrites(t *testing.T) {
	db, rec := openDB(t)
	spy := &spyPlugin{}
	require.NoError(t, db.Use(spy))
	a := newAppOn(t, db, rec, basicRoutes)
	cl := a.client()
	spy.take()

	var ran []string
	ran = append(ran, cl.get("/set?k=v").stmts...)
	resp := cl.get("/get?k=k")
	assert.Equal(t, "v", resp.body)
	ran = append(ran, resp.stmts...)
	// A second cookie of the session's name: the lookup of several IDs.
	unknown, _ := newToken()
	resp = getWithCookieHeader(t, a, "/get?k=k", "session_id="+unknown+"; session_id="+cl.cookie())
	assert.Equal(t, "v", resp.body)
	ran = append(ran, resp.stmts...)
	ran = append(ran, cl.get("/destroy").stmts...)

	sqls, writes := spy.take()
	assert.Equal(t, []string{"INSERT", "SELECT", "SELECT", "DELETE"}, kinds(sqls))
	assert.Equal(t, []bool{true, true, true, true}, writes, "dbresolver would use the sources for each")
	assert.Equal(t, kinds(sqls), kinds(ran), "and each ran once")
	assert.Contains(t, sqls[2], "id IN (")
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=k").StatusCode)
}

func TestStoreTakesGORMCallbacksWhenAsked(t *testing.T) {
	db, rec := openDB(t)
	var mu sync.Mutex
	var seen []string
	require.NoError(t, db.Callback().Row().After("gorm:row").Register("app:row", func(db *gorm.DB) {
		mu.Lock()
		seen = append(seen, db.Statement.SQL.String())
		mu.Unlock()
	}))
	lean := newAppOn(t, db, rec, basicRoutes)
	mu.Lock()
	seen = nil // the migration's
	mu.Unlock()
	cl := lean.client()
	cl.get("/set?k=v")
	cl.get("/get?k=k")
	mu.Lock()
	assert.Empty(t, seen, "no plugin: the lean path")
	mu.Unlock()

	detour := newAppOn(t, db, rec, basicRoutes, WithGORMCallbacks(true))
	mu.Lock()
	seen = nil
	mu.Unlock()
	cl = detour.client()
	cl.get("/set?k=v")
	assert.Equal(t, "v", cl.get("/get?k=k").body)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"SELECT"}, kinds(seen))
}

func TestPrepareStmtLeavesPreparingToGORMsCache(t *testing.T) {
	db, rec := openDB(t)
	db = db.Session(&gorm.Session{PrepareStmt: true})
	a := newAppOn(t, db, rec, basicRoutes)
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=v").StatusCode)
	assert.Equal(t, "v", cl.get("/get?k=k").body)
	require.Equal(t, http.StatusOK, cl.get("/set?k=w").StatusCode)

	pdb, ok := db.Statement.ConnPool.(*gorm.PreparedStmtDB)
	require.True(t, ok)
	var cached []string
	for _, key := range pdb.Stmts.Keys() {
		if strings.Contains(key, "`gin_sessions`") && !strings.HasPrefix(key, "CREATE") { // not the migration's
			cached = append(cached, key)
		}
	}
	assert.Equal(t, []string{"INSERT", "SELECT", "UPDATE"}, sortedKinds(cached), "GORM's cache holds the store's statements")
}

func sortedKinds(stmts []string) []string {
	k := kinds(stmts)
	slices.Sort(k)
	return k
}
