package ginsession_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeQuickStart builds and tests the Quick start of README.md as a
// reader who pastes it gets it: its main.go and main_test.go, in a module
// of their own that takes this repository for ginsession (offlineModule).
// It runs go vet and go test there without the network.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	files := quickStartFiles(t, string(readme))

	dir := offlineModule(t, "quickstart", files)
	for _, args := range [][]string{{"vet", "."}, {"test", "-count=1", "."}} {
		out, err := goIn(t, dir, args...)
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
