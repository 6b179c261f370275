package sessionfill

// fills generates the rows server-side, in one statement: {rows} rows,
// times around {base} (UTC, microseconds).
var fills = map[string]string{
	"postgres": `INSERT INTO {table} (id, data, user_id, expires_at, created_at, updated_at, last_seen_at, version, renewed_from, renewed_at, signed_in_at, flags)
SELECT lpad(to_hex(i), 64, '0'), '{"values":{"cart":"three items","theme":"dark"}}',
  CASE WHEN k >= {expired} AND k < {user} THEN 'user' || (i % {users}) ELSE '' END,
  CASE WHEN k < {expired} THEN b - make_interval(secs => s % 86400 + 1) ELSE b + make_interval(secs => s + 60) END,
  b - interval '1 hour', b - interval '1 minute', b - interval '1 minute', 1,
  CASE WHEN k >= {user} AND k < {renewed} THEN lpad(to_hex(i), 63, 'f') || 'e' ELSE '' END,
  CASE WHEN k >= {user} AND k < {renewed} THEN b - interval '30 seconds' END,
  CASE WHEN k >= {expired} AND k < {user} THEN b - interval '1 hour' END,
  CASE WHEN k >= {renewed} AND k < {header} THEN 4 ELSE 0 END
FROM (SELECT i, (i * 2654435761) % 1000 AS k, (i * 2654435761) % 2592000 AS s, timestamptz '{base}+00' AS b
      FROM generate_series(1, {rows}) AS i) AS g`,
	"mysql": `INSERT INTO {table} (id, data, user_id, expires_at, created_at, updated_at, last_seen_at, version, renewed_from, renewed_at, signed_in_at, flags)
SELECT LPAD(HEX(seq), 64, '0'), '{"values":{"cart":"three items","theme":"dark"}}',
  IF(k >= {expired} AND k < {user}, CONCAT('user', seq % {users}), ''),
  IF(k < {expired}, b - INTERVAL (s % 86400 + 1) SECOND, b + INTERVAL (s + 60) SECOND),
  b - INTERVAL 1 HOUR, b - INTERVAL 1 MINUTE, b - INTERVAL 1 MINUTE, 1,
  IF(k >= {user} AND k < {renewed}, CONCAT(LPAD(HEX(seq), 63, 'f'), 'e'), ''),
  IF(k >= {user} AND k < {renewed}, b - INTERVAL 30 SECOND, NULL),
  IF(k >= {expired} AND k < {user}, b - INTERVAL 1 HOUR, NULL),
  IF(k >= {renewed} AND k < {header}, 4, 0)
FROM (SELECT seq, (seq * 2654435761) % 1000 AS k, (seq * 2654435761) % 2592000 AS s, CAST('{base}' AS DATETIME(6)) AS b
      FROM seq_1_to_{rows}) AS g`,
	// Times as go-sqlite3 writes a UTC time.Time: "2006-01-02 15:04:05+00:00".
	"sqlite": `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}),
g AS (SELECT i, (i * 2654435761) % 1000 AS k, (i * 2654435761) % 2592000 AS s, '{base}' AS b FROM n)
INSERT INTO {table} (id, data, user_id, expires_at, created_at, updated_at, last_seen_at, version, renewed_from, renewed_at, signed_in_at, flags)
SELECT printf('%064x', i), '{"values":{"cart":"three items","theme":"dark"}}',
  CASE WHEN k >= {expired} AND k < {user} THEN 'user' || (i % {users}) ELSE '' END,
  CASE WHEN k < {expired} THEN datetime(b, '-' || (s % 86400 + 1) || ' seconds') ELSE datetime(b, '+' || (s + 60) || ' seconds') END || '+00:00',
  datetime(b, '-1 hour') || '+00:00', datetime(b, '-1 minute') || '+00:00', datetime(b, '-1 minute') || '+00:00', 1,
  CASE WHEN k >= {user} AND k < {renewed} THEN substr(printf('%064x', i), 2) || 'e' ELSE '' END,
  CASE WHEN k >= {user} AND k < {renewed} THEN datetime(b, '-30 seconds') || '+00:00' END,
  CASE WHEN k >= {expired} AND k < {user} THEN datetime(b, '-1 hour') || '+00:00' END,
  CASE WHEN k >= {renewed} AND k < {header} THEN 4 ELSE 0 END
FROM g`,
}

// analyze is the statement of Analyze, followed by the table's name.
var analyze = map[string]string{"postgres": "VACUUM ANALYZE", "mysql": "ANALYZE TABLE", "sqlite": "ANALYZE"}

// sizes asks for the size of table ($1/?) with its indexes; on SQLite,
// of the whole database file.
var sizes = map[string]string{
	"postgres": "SELECT pg_total_relation_size($1::regclass)",
	"mysql":    "SELECT data_length + index_length FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
	"sqlite":   "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size() WHERE ? IS NOT NULL",
}

// parts lists the table's parts and their sizes in bytes: the table
// and each index (on MySQL the table is its primary key's clustered index).
var parts = map[string]string{
	"postgres": "SELECT 'table', pg_relation_size($1::regclass) UNION ALL " +
		"SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass",
	"mysql": "SELECT 'table (the clustered primary key)', data_length FROM information_schema.tables" +
		" WHERE table_schema = DATABASE() AND table_name = ? UNION ALL" +
		" SELECT 'secondary indexes', index_length FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
}
