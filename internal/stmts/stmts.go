// Package stmts lets this repository's own tests read the statements a
// ginsession.Store runs, for diagnostics such as the integration suite's
// query-plan check (integration/sessiontest/plans.go), which EXPLAINs each
// of them on a large table.
//
// It is internal on purpose: only code inside github.com/ginsession/ginsession
// (the integration module included) can import it, so no application comes
// to depend on the statements' texts, which change with the schema and the
// options, and the library's public API gains nothing. Package ginsession
// fills in the functions when it is initialised; this package cannot import
// it, which would be a cycle.
package stmts

// Statement is one statement a store runs.
type Statement struct {
	// Name says which: "load", "loadAny2", "update+id+expiry", ...
	Name string
	// Text is the statement as the store sends it on its own path, with the
	// dialect's placeholders ($1 on PostgreSQL, ? elsewhere), without the
	// SET STATEMENT prefix a Galera node gets; empty for a statement the
	// store never runs on this database.
	Text string
}

// Of returns every statement store, a *ginsession.Store, runs.
var Of func(store any) []Statement

// Args returns args as store's runner hands them to the database driver,
// for a diagnostic that runs a statement's text through the same driver
// with the same values (times cut to whole microseconds on MySQL and
// MariaDB, say). args is not changed.
var Args func(store any, args []any) []any
