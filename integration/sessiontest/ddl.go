package sessiontest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RunSchemaChange drives clients against two app servers while each of
// alters (a statement with %s for the table) runs on the session table, as a
// rolling deploy's migration or a DBA would, mid-traffic. No request may
// fail, no ledger may lose a write, and right after each change has
// committed a request through each server must succeed: a statement the
// database invalidated is prepared afresh, never kept broken.
func RunSchemaChange(t *testing.T, open Opener, alters []string) {
	dbA, dbB, dba := open(t), open(t), open(t)
	table := freshTable(t, dbA)
	servers := []*app{newApp(t, dbA, table, nil, routes), newApp(t, dbB, table, nil, routes)}
	const clients = 8
	pause := 700 * time.Millisecond
	l := &loadRun{t: t, servers: servers, deadline: time.Now().Add(time.Duration(len(alters)+2) * pause)}

	// One client whose session is there all along, to probe each server
	// right after each change.
	probe := l.newBrowser()
	l.mustSet(probe, servers[0], "probe", "here")

	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { l.solo(i) })
	}
	for _, alter := range alters {
		time.Sleep(pause)
		stmt := fmt.Sprintf(alter, table)
		require.NoError(t, dba.Exec(stmt).Error, stmt)
		for _, a := range servers {
			st, body := l.do(probe, a, "/get?k=probe")
			assert.Equal(t, http.StatusOK, st, "first request after %q: %s", stmt, body)
			assert.Equal(t, "here", body)
		}
	}
	wg.Wait()
	t.Logf("%d requests by %d clients across %d schema changes", l.requests.Load(), clients, len(alters))
	l.verify()
}
