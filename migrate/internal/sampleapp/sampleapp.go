// Package sampleapp lays out the sample applications of migrate/testdata as
// modules of their own, for the tests: each in a temporary directory, with
// the migrate module's requirements, so that the go command finds every
// module in the module cache without the network.
package sampleapp

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Dir returns the migrate module's directory.
func Dir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok, "runtime.Caller")
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Module copies testdata/name into a new temporary directory as module
// "example.com/name" and returns the directory. Its go.mod is the migrate
// module's, so that the same versions of gin, gin-contrib/sessions, GORM
// and the SQLite driver resolve offline with its go.sum, and ginsession
// comes from this repository.
func Module(t testing.TB, name string) string {
	t.Helper()
	migrate := Dir(t)
	gomod, err := os.ReadFile(filepath.Join(migrate, "go.mod"))
	require.NoError(t, err)
	gosum, err := os.ReadFile(filepath.Join(migrate, "go.sum"))
	require.NoError(t, err)
	repo, err := filepath.Abs(filepath.Join(migrate, ".."))
	require.NoError(t, err)
	mod := strings.Replace(string(gomod), "module github.com/ginsession/ginsession/migrate", "module example.com/"+name, 1)
	mod = strings.Replace(mod, "github.com/ginsession/ginsession => ../", "github.com/ginsession/ginsession => "+repo, 1)
	require.Contains(t, mod, "=> "+repo, "the migrate module's go.mod replaces ginsession with ../")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644))
	src := filepath.Join(migrate, "testdata", name)
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	require.NotEmpty(t, entries, "testdata/%s", name)
	for _, e := range entries {
		require.False(t, e.IsDir(), "testdata/%s holds files only", name)
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644))
	}
	return dir
}

// Offline sets the go command's environment for the rest of the test: no
// network, requirements resolved from the module cache, no workspace.
func Offline(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOWORK", "off")
}
