package sessiontest

import (
	"context"
	"strings"
	"testing"

	"github.com/ginsession/ginsession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"
	"gorm.io/plugin/opentelemetry/tracing"
)

// RunReplicaRouting registers gorm.io/plugin/dbresolver on the database
// that open reaches, with replica as its read replica: a replica that has
// the session table but lags so far behind that it holds none of the rows.
// Every session statement must still go to the source: a session read on
// the replica would sign the user out right after login.
func RunReplicaRouting(t *testing.T, open Opener, replica DB) {
	db := open(t)
	table := freshTable(t, db)
	// The replica has the table, as a real one would, from the migration.
	_, err := ginsession.NewStore(replica.DB, ginsession.WithTableName(table), ginsession.WithCleanupInterval(0))
	require.NoError(t, err)
	t.Cleanup(func() { _ = replica.Migrator().DropTable(table) })
	require.NoError(t, db.Use(dbresolver.Register(dbresolver.Config{Replicas: []gorm.Dialector{replica.Dialector}})))

	var a *app
	a = newApp(t, db, table, nil, userRoutes(&a))
	replica.Counter.Take()

	laptop, phone := newClient(t), newClient(t)
	require.Equal(t, "hello", laptop.get(a, "/login?u=alice").body, "%v %s", a.errors(), a.logs)
	require.Equal(t, "hello", phone.get(a, "/login?u=alice").body)
	assert.Equal(t, "alice", laptop.get(a, "/whoami").body, "read right after login: from the source")
	assert.Equal(t, "2", laptop.get(a, "/devices").body)
	// Two cookies of the session's name: the lookup of several IDs.
	resp := newClient(t).getWithCookies(a, "/whoami", laptop.cookie(a), phone.cookie(a))
	assert.Equal(t, "alice", resp.body)
	assert.Equal(t, "1", laptop.get(a, "/signout-others").body)
	assert.Empty(t, phone.get(a, "/whoami").body, "signed out")
	laptop.get(a, "/destroy")
	n, err := a.store.Cleanup(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)

	assert.Empty(t, replica.Counter.Take(), "no session statement reached the replica")
	var rows int64
	require.NoError(t, replica.Table(table).Count(&rows).Error)
	assert.Zero(t, rows)
}

// RunTracing registers gorm.io/plugin/opentelemetry on the database that
// open reaches and checks that the store's statements become spans.
func RunTracing(t *testing.T, open Opener) {
	db := open(t)
	table := freshTable(t, db)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	require.NoError(t, db.Use(tracing.NewPlugin(tracing.WithTracerProvider(tp), tracing.WithoutMetrics())))

	a := newApp(t, db, table, nil, routes)
	before := len(spans.Ended())
	cl := newClient(t)
	cl.get(a, "/set?k=v")
	assert.Equal(t, "v", cl.get(a, "/get?k=k").body)
	cl.get(a, "/set?k=w")
	cl.get(a, "/destroy")

	var kinds []string
	for _, s := range spans.Ended()[before:] {
		for _, kv := range s.Attributes() {
			if kv.Key == attribute.Key("db.query.text") && strings.Contains(kv.Value.AsString(), table) {
				kinds = append(kinds, Kinds([]string{kv.Value.AsString()})...)
			}
		}
	}
	assert.Equal(t, []string{"INSERT", "SELECT", "SELECT", "UPDATE", "DELETE"}, kinds)
}
