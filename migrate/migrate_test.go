package migrate_test

import (
	"testing"

	"github.com/ginsession/ginsession/migrate"
	"github.com/ginsession/ginsession/migrate/internal/sampleapp"
	"golang.org/x/tools/go/analysis/analysistest"
)

// TestRewritesMatchTheGoldenFiles runs the analyzer on each sample app and
// checks its diagnostics against the apps' // want comments and the result
// of all its fixes against main.go.golden.
func TestRewritesMatchTheGoldenFiles(t *testing.T) {
	sampleapp.Offline(t)
	for _, app := range []string{"counter", "login", "manual"} {
		t.Run(app, func(t *testing.T) {
			analysistest.RunWithSuggestedFixes(t, sampleapp.Module(t, app), migrate.Analyzer, "./...")
		})
	}
}
