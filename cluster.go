package ginsession

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"gorm.io/gorm"
)

// galeraSyncWait is the wsrep_sync_wait the store's statements run with on
// a MariaDB Galera cluster: 1 (reads) + 2 (UPDATE and DELETE). A node then
// applies every write the cluster committed before it answers, so that a
// session destroyed, renewed or changed through one node is seen as such
// through any other on the very next request. INSERTs of new random IDs
// need no wait.
const galeraSyncWait = 3

// galeraSyncInsert is wsrep_sync_wait's bit for INSERT, added for the one
// INSERT that reads a row (MintToken's).
const galeraSyncInsert = 4

// causalPrefix returns what goes before each statement that must see the
// whole cluster's writes, or "" when the database needs nothing: a single
// server, PostgreSQL or SQLite. It asks the server once, at start-up, so
// that users need not remember a DSN flag.
func causalPrefix(ctx context.Context, db *gorm.DB, logger *slog.Logger) (string, error) {
	if db.Dialector.Name() != "mysql" {
		return "", nil
	}
	rows, err := db.WithContext(ctx).Set(gormWrite, true).Raw("SHOW VARIABLES WHERE Variable_name IN ('version', 'wsrep_on')").Rows()
	if err != nil {
		return "", fmt.Errorf("ginsession: ask the server whether it is a Galera node: %w", err)
	}
	defer rows.Close()
	vars := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return "", fmt.Errorf("ginsession: ask the server whether it is a Galera node: %w", err)
		}
		vars[strings.ToLower(name)] = value
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("ginsession: ask the server whether it is a Galera node: %w", err)
	}
	if !strings.EqualFold(vars["wsrep_on"], "ON") {
		return "", nil
	}
	if !strings.Contains(strings.ToLower(vars["version"]), "mariadb") {
		// MySQL has no SET STATEMENT; its Galera forks take the setting
		// per connection.
		logger.Warn("Galera on MySQL: add wsrep_sync_wait=3 to the DSN's session variables, or a logout on one node may not be seen at once on another",
			"version", vars["version"])
		return "", nil
	}
	return fmt.Sprintf("SET STATEMENT wsrep_sync_wait=%d FOR ", galeraSyncWait), nil
}
