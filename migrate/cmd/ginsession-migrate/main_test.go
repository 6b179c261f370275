package main

import (
	"bytes"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ginsession/ginsession/migrate/internal/sampleapp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goCmd runs the go command in dir and returns its combined output.
func goCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// migrateApp runs the command as a user would, in the app's module.
func migrateApp(t *testing.T, dir string, args ...string) (int, []string) {
	t.Helper()
	var out bytes.Buffer
	code := run(dir, args, &out)
	text := strings.TrimSpace(out.String())
	if text == "" {
		return code, nil
	}
	return code, strings.Split(text, "\n")
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}

// TestFixMigratesTheSampleApps copies each sample app to a module of its
// own, proves its behaviour test passes on gin-contrib/sessions, runs
// ginsession-migrate -fix on it, and proves that the result is gofmt-clean,
// no longer imports gin-contrib/sessions, builds and vets, and passes the
// same behaviour test on ginsession.
func TestFixMigratesTheSampleApps(t *testing.T) {
	sampleapp.Offline(t)
	for _, app := range []string{"counter", "login"} {
		t.Run(app, func(t *testing.T) {
			dir := sampleapp.Module(t, app)
			out, err := goCmd(t, dir, "test", "-count=1", "./...")
			require.NoError(t, err, "the behaviour test on gin-contrib/sessions, before the migration:\n%s", out)

			code, lines := migrateApp(t, dir, "-fix", "./...")
			require.Equal(t, exitClean, code, "ginsession-migrate -fix:\n%s", strings.Join(lines, "\n"))
			require.NotEmpty(t, lines)
			for _, line := range lines {
				assert.Contains(t, line, ": fixed: ", "every finding in this app is fixed")
			}

			migrated := readFile(t, filepath.Join(dir, "main.go"))
			golden := readFile(t, filepath.Join(sampleapp.Dir(t), "testdata", app, "main.go.golden"))
			assert.Equal(t, golden, migrated, "the command's result is the analyzer's golden file")
			formatted, err := format.Source([]byte(migrated))
			require.NoError(t, err)
			assert.Equal(t, string(formatted), migrated, "gofmt-clean")
			assert.NotContains(t, migrated, `"github.com/gin-contrib/sessions`, "no import of gin-contrib/sessions or its backends")
			assert.Contains(t, migrated, `"github.com/ginsession/ginsession"`)

			out, err = goCmd(t, dir, "vet", "./...")
			require.NoError(t, err, "go vet after the migration:\n%s", out)
			out, err = goCmd(t, dir, "test", "-count=1", "./...")
			require.NoError(t, err, "the behaviour test on ginsession, after the migration:\n%s", out)

			code, lines = migrateApp(t, dir, "./...")
			assert.Equal(t, exitClean, code)
			assert.Empty(t, lines, "a second run finds nothing left")
		})
	}
}

// TestNaiveRenameFailsTheCounterTest is the control for the one above: the
// counter's behaviour test does catch the failure that a rename of the
// package alone leaves, the second /incr panicking on a float64.
func TestNaiveRenameFailsTheCounterTest(t *testing.T) {
	sampleapp.Offline(t)
	dir := sampleapp.Module(t, "counter")
	name := filepath.Join(dir, "main.go")
	src := readFile(t, name)
	naive := strings.NewReplacer(
		`"github.com/gin-contrib/sessions"`, `"github.com/ginsession/ginsession"`,
		`"github.com/gin-contrib/sessions/cookie"`, ``,
		`store := cookie.NewStore([]byte("secret"))`, ``,
		`sessions.Sessions("mysession", store)`, `ginsession.New(db, ginsession.WithCookieName("mysession"))`,
		`sessions.Default`, `ginsession.Default`,
	).Replace(src)
	require.NotContains(t, naive, `"github.com/gin-contrib/sessions`)
	require.NoError(t, os.WriteFile(name, []byte(naive), 0o644))

	out, err := goCmd(t, dir, "test", "-count=1", "./...")
	require.Error(t, err, "the behaviour test passed on the naive rename:\n%s", out)
	assert.Contains(t, out, "interface {} is float64, not int")
}

// TestReportsWhatItCannotRewrite runs the command on the sample app of
// cases left to the user: without -fix it lists every finding and changes
// nothing; with -fix it makes the changes it can, lists the others as
// manual steps, and exits 3.
func TestReportsWhatItCannotRewrite(t *testing.T) {
	sampleapp.Offline(t)
	dir := sampleapp.Module(t, "manual")
	name := filepath.Join(dir, "main.go")
	before := readFile(t, name)

	code, listed := migrateApp(t, dir, "./...")
	assert.Equal(t, exitFindings, code)
	assert.Equal(t, before, readFile(t, name), "without -fix nothing is written")
	for _, line := range listed {
		assert.Regexp(t, `^main\.go:\d+:\d+: `, line)
		assert.NotContains(t, line, "fixed:")
	}

	code, lines := migrateApp(t, dir, "-fix", "./...")
	assert.Equal(t, exitFindings, code)
	assert.Len(t, lines, len(listed), "the same findings, fixed or not")
	var manual []string
	for _, line := range lines {
		if !strings.Contains(line, ": fixed: ") {
			manual = append(manual, line)
		}
	}
	assert.Contains(t, manual, `main.go:58:8: sessions.Sessions with the cookie store: ginsession keeps sessions in a database and there is no *gorm.DB in scope here; open one with gorm.Open, and write r.Use(ginsession.New(db, ginsession.WithCookieName("mysession"))); then delete the store`)
	assert.Contains(t, manual, `main.go:24:36: session.ID(): ginsession keeps the session's ID secret (only its hash is stored); use s.UserID() for who is signed in, or Set an ID of your own`)
	assert.Len(t, manual, 13)
	golden := readFile(t, filepath.Join(sampleapp.Dir(t), "testdata", "manual", "main.go.golden"))
	assert.Equal(t, golden, readFile(t, name))
}

// TestRefusesAnAppThatDoesNotBuild: the rewrite needs the types of the
// code as it is, so a package with errors is left alone, with the errors.
func TestRefusesAnAppThatDoesNotBuild(t *testing.T) {
	sampleapp.Offline(t)
	dir := sampleapp.Module(t, "counter")
	name := filepath.Join(dir, "main.go")
	broken := readFile(t, name) + "\nfunc broken() int { return \"not an int\" }\n"
	require.NoError(t, os.WriteFile(name, []byte(broken), 0o644))

	code, lines := migrateApp(t, dir, "-fix", "./...")
	assert.Equal(t, exitFailed, code)
	out := strings.Join(lines, "\n")
	assert.Contains(t, out, "the packages do not build; fix them first")
	assert.Contains(t, out, "main.go:")
	assert.Equal(t, broken, readFile(t, name), "nothing is written")
}

func TestNoMatchingPackagesIsAnError(t *testing.T) {
	sampleapp.Offline(t)
	dir := sampleapp.Module(t, "counter")
	code, lines := migrateApp(t, dir, "./nothing/here/...")
	assert.Equal(t, exitFailed, code)
	assert.NotEmpty(t, lines)
}

func TestUnknownFlagIsAUsageError(t *testing.T) {
	code, lines := migrateApp(t, t.TempDir(), "-frobnicate")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, strings.Join(lines, "\n"), "usage: ginsession-migrate")
}

// TestOverlappingFixesWriteNothing: two fixes that change the same bytes
// differently cannot both be right, and no file is half-fixed.
func TestOverlappingFixesWriteNothing(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.go"), filepath.Join(dir, "b.go")
	const src = "package p\n\nvar x = 1\n"
	for _, name := range []string{a, b} {
		require.NoError(t, os.WriteFile(name, []byte(src), 0o644))
	}
	findings := []*finding{
		{file: a, fixable: true, edits: []edit{{start: 19, end: 20, text: "4"}}},
		{file: b, fixable: true, edits: []edit{{start: 19, end: 20, text: "2"}}},
		{file: b, fixable: true, edits: []edit{{start: 19, end: 20, text: "3"}}},
	}
	err := apply(findings)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "two fixes change the same code")
	assert.Equal(t, src, readFile(t, a), "not even the file without a conflict is written")
	assert.Equal(t, src, readFile(t, b))

	// The same edit twice (a package and its test variant) is one edit.
	findings[2].edits[0].text = "2"
	require.NoError(t, apply(findings))
	assert.Equal(t, "package p\n\nvar x = 4\n", readFile(t, a))
	assert.Equal(t, "package p\n\nvar x = 2\n", readFile(t, b))
}
