package migrate_test

import (
	"testing"

	"github.com/ginsession/ginsession/migrate"
	"github.com/ginsession/ginsession/migrate/internal/sampleapp"
	"github.com/stretchr/testify/assert"
	"golang.org/x/tools/go/analysis/analysistest"
)

// TestRewritesMatchTheGoldenFiles runs the analyzer on each sample app and
// checks its diagnostics against the apps' // want comments and the result
// of all its fixes against main.go.golden. The apps share one module, so
// that their dependencies are loaded from source once.
func TestRewritesMatchTheGoldenFiles(t *testing.T) {
	sampleapp.Offline(t)
	apps := []string{"counter", "login", "manual", "edges", "single"}
	results := analysistest.RunWithSuggestedFixes(t, sampleapp.Modules(t, apps...), migrate.Analyzer, "./...")
	analyzed := map[string]bool{}
	for _, r := range results {
		analyzed[r.Pass.Pkg.Path()] = true
	}
	for _, app := range apps {
		assert.True(t, analyzed["example.com/samples/"+app], "%s was analyzed", app)
	}
}
