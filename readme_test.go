package ginsession_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeQuickStart builds and tests the Quick start of README.md as a
// reader who pastes it gets it: its main.go and main_test.go, in a module
// of their own that takes this repository for ginsession. It runs go vet
// and go test there without the network (GOPROXY=off): the modules come
// from the module cache that building this repository filled.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	files := quickStartFiles(t, string(readme))

	root, err := filepath.Abs(".")
	require.NoError(t, err)
	gomod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	gosum, err := os.ReadFile("go.sum")
	require.NoError(t, err)
	// This repository's requirements, so that the same versions resolve
	// offline, and ginsession itself from here.
	mod := strings.Replace(string(gomod), "module github.com/ginsession/ginsession", "module quickstart", 1) +
		"\nrequire github.com/ginsession/ginsession v0.0.0\n\nreplace github.com/ginsession/ginsession => " + root + "\n"

	dir := t.TempDir()
	files["go.mod"] = mod
	files["go.sum"] = string(gosum)
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	for _, args := range [][]string{{"vet", "."}, {"test", "-count=1", "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s on README.md's Quick start:\n%s", strings.Join(args, " "), out)
		if len(out) > 0 {
			t.Logf("go %s: %s", strings.Join(args, " "), out)
		}
	}
}

// quickStartFiles returns the Go files of README's Quick start: each ```go
// block there that is a whole file, as main.go (the one with func main) or
// main_test.go.
func quickStartFiles(t *testing.T, readme string) map[string]string {
	t.Helper()
	start := strings.Index(readme, "\n## Quick start\n")
	require.GreaterOrEqual(t, start, 0, "README.md has no Quick start")
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	files := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)\n```go\n(.*?)\n```\n").FindAllStringSubmatch(section, -1) {
		src := m[1] + "\n"
		switch {
		case !strings.HasPrefix(src, "package "):
			continue // a fragment
		case strings.Contains(src, "\nfunc main() {"):
			files["main.go"] = src
		default:
			files["main_test.go"] = src
		}
	}
	require.Contains(t, files, "main.go", "the Quick start's main.go")
	require.Contains(t, files, "main_test.go", "the Quick start's main_test.go")
	return files
}
