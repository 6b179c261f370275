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
// and the SQLite driver resolve offline, and ginsession comes from this
// repository; its go.sum is the two modules' go.sum files together.
func Module(t testing.TB, name string) string {
	t.Helper()
	dir := newModule(t, "example.com/"+name)
	copyApp(t, name, dir)
	return dir
}

// Modules lays out several sample apps in one module, "example.com/samples",
// each in a directory of its name, so that a test that loads them all from
// source loads their dependencies once.
func Modules(t testing.TB, names ...string) string {
	t.Helper()
	dir := newModule(t, "example.com/samples")
	for _, name := range names {
		sub := filepath.Join(dir, name)
		require.NoError(t, os.Mkdir(sub, 0o755))
		copyApp(t, name, sub)
	}
	return dir
}

func newModule(t testing.TB, path string) string {
	t.Helper()
	migrate := Dir(t)
	gomod, err := os.ReadFile(filepath.Join(migrate, "go.mod"))
	require.NoError(t, err)
	repo, err := filepath.Abs(filepath.Join(migrate, ".."))
	require.NoError(t, err)
	var gosum []byte
	for _, dir := range []string{migrate, repo} {
		b, err := os.ReadFile(filepath.Join(dir, "go.sum"))
		require.NoError(t, err)
		gosum = append(gosum, b...)
	}
	mod := strings.Replace(string(gomod), "module github.com/ginsession/ginsession/migrate", "module "+path, 1)
	require.NotEqual(t, string(gomod), mod, "the migrate module's go.mod names its module")
	mod += "\nrequire github.com/ginsession/ginsession v0.0.0\n\nreplace github.com/ginsession/ginsession => " + repo + "\n"

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644))
	return dir
}

// copyApp copies the files of testdata/name into dir.
func copyApp(t testing.TB, name, dir string) {
	t.Helper()
	src := filepath.Join(Dir(t), "testdata", name)
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	require.NotEmpty(t, entries, "testdata/%s", name)
	for _, e := range entries {
		require.False(t, e.IsDir(), "testdata/%s holds files only", name)
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644))
	}
}

// Offline sets the go command's environment for the rest of the test: no
// network, requirements resolved from the module cache, no workspace.
func Offline(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOWORK", "off")
}
