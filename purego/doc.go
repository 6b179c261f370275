// Package purego holds no code of its own: its test proves that ginsession
// works with a pure-Go SQLite driver (github.com/glebarez/sqlite, over
// modernc.org/sqlite), so that an application can be built with
// CGO_ENABLED=0 and without a C compiler. It is a module of its own, so that
// the driver stays out of the library's go.mod.
package purego
