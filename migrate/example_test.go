package migrate_test

import (
	"fmt"
	"strings"

	"github.com/ginsession/ginsession/migrate"
)

// The analyzer is a plain *analysis.Analyzer: besides the
// ginsession-migrate command, any driver runs it, for example a
// multichecker of your own (multichecker.Main(migrate.Analyzer, ...)) or
// analysistest in a test of your own rewrite rules.
func Example() {
	a := migrate.Analyzer
	fmt.Println(a.Name)
	fmt.Println(strings.SplitN(a.Doc, "\n", 2)[0])
	// Output:
	// ginsessionmigrate
	// rewrite gin-contrib/sessions code to ginsession
}
