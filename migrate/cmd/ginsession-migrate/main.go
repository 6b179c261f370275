// Command ginsession-migrate moves a Gin application from
// github.com/gin-contrib/sessions to github.com/ginsession/ginsession.
//
// Run it in the application's module:
//
//	ginsession-migrate ./...        # list every change and every manual step
//	ginsession-migrate -fix ./...   # make the changes in place, list the manual steps
//
// It prints one line per finding, file:line:col: message, with "fixed: "
// before the message of each change -fix made. It exits 0 when nothing is
// left to do by hand, 3 when findings remain (without -fix: any finding),
// and 1 when the packages do not load or a fix cannot be applied.
package main

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/ginsession/ginsession/migrate"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"
)

func main() {
	dir, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(run(dir, os.Args[1:], os.Stdout))
}

// Exit codes.
const (
	exitClean    = 0 // nothing left to do
	exitFailed   = 1 // the packages did not load, or a fix could not be applied
	exitUsage    = 2
	exitFindings = 3 // findings remain
)

// finding is one diagnostic, located by file and byte offset, so that the
// same diagnostic from a package and its test variant counts once.
type finding struct {
	file      string
	line, col int
	offset    int
	message   string
	edits     []edit
	fixable   bool
}

type edit struct {
	start, end int
	text       string
}

// run migrates the packages that args name, relative to dir, and writes
// its findings to out.
func run(dir string, args []string, out io.Writer) int {
	fs := flag.NewFlagSet("ginsession-migrate", flag.ContinueOnError)
	fs.SetOutput(out)
	fix := fs.Bool("fix", false, "apply the fixes in place (files are rewritten and gofmt-ed)")
	fs.Usage = func() {
		fmt.Fprintln(out, "usage: ginsession-migrate [-fix] [packages]   (default ./...)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	patterns := fs.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	findings, err := analyze(dir, patterns)
	if err != nil {
		fmt.Fprintln(out, "ginsession-migrate:", err)
		return exitFailed
	}
	if *fix {
		if err := apply(findings); err != nil {
			fmt.Fprintln(out, "ginsession-migrate:", err)
			return exitFailed
		}
	}
	left := 0
	for _, f := range findings {
		name := f.file
		if rel, err := filepath.Rel(dir, f.file); err == nil {
			name = rel
		}
		prefix := ""
		if *fix && f.fixable {
			prefix = "fixed: "
		} else {
			left++
		}
		fmt.Fprintf(out, "%s:%d:%d: %s%s\n", name, f.line, f.col, prefix, f.message)
	}
	if left > 0 {
		return exitFindings
	}
	return exitClean
}

// analyze loads the packages, with their tests, and returns the
// analyzer's findings in file order.
func analyze(dir string, patterns []string) ([]*finding, error) {
	// The analyzer uses no facts, so the dependencies' types come from
	// export data: only the packages named are parsed and type-checked.
	cfg := &packages.Config{Mode: packages.LoadSyntax | packages.NeedModule, Dir: dir, Tests: true}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, err
	}
	var loadErrs []error
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			loadErrs = append(loadErrs, e)
		}
	})
	if len(loadErrs) > 0 {
		// The migration needs the types of the code as it is now.
		return nil, fmt.Errorf("the packages do not build; fix them first: %w", errors.Join(loadErrs...))
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no packages match %v", patterns)
	}
	graph, err := checker.Analyze([]*analysis.Analyzer{migrate.Analyzer}, pkgs, nil)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var findings []*finding
	for _, act := range graph.Roots {
		if act.Err != nil {
			return nil, act.Err
		}
		fset := act.Package.Fset
		for _, d := range act.Diagnostics {
			f := newFinding(fset, d)
			key := fmt.Sprintf("%s:%d:%s", f.file, f.offset, f.message)
			if !seen[key] {
				seen[key] = true
				findings = append(findings, f)
			}
		}
	}
	slices.SortFunc(findings, func(a, b *finding) int {
		return cmp.Or(cmp.Compare(a.file, b.file), cmp.Compare(a.offset, b.offset), cmp.Compare(a.message, b.message))
	})
	return findings, nil
}

func newFinding(fset *token.FileSet, d analysis.Diagnostic) *finding {
	p := fset.Position(d.Pos)
	f := &finding{file: p.Filename, line: p.Line, col: p.Column, offset: p.Offset, message: d.Message}
	if len(d.SuggestedFixes) > 0 {
		f.fixable = true
		for _, e := range d.SuggestedFixes[0].TextEdits {
			end := e.End
			if !end.IsValid() {
				end = e.Pos
			}
			f.edits = append(f.edits, edit{fset.Position(e.Pos).Offset, fset.Position(end).Offset, string(e.NewText)})
		}
	}
	return f
}

// apply makes the fixes' edits in their files and gofmts them. Two fixes
// whose edits overlap cannot both be right: that is an error, and nothing
// is written.
func apply(findings []*finding) error {
	byFile := map[string][]edit{}
	for _, f := range findings {
		byFile[f.file] = append(byFile[f.file], f.edits...)
	}
	type result struct {
		text []byte
		mode os.FileMode
	}
	out := map[string]result{}
	for name, edits := range byFile {
		if len(edits) == 0 {
			continue
		}
		slices.SortFunc(edits, func(a, b edit) int {
			return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.end, b.end), cmp.Compare(a.text, b.text))
		})
		edits = slices.Compact(edits) // the same edit from two fixes, or from a test variant
		info, err := os.Stat(name)
		if err != nil {
			return err
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		at := 0
		for i, e := range edits {
			if e.start < at || (i > 0 && e.start == edits[i-1].start && e.start == e.end && edits[i-1].start == edits[i-1].end) {
				return fmt.Errorf("%s: two fixes change the same code at byte %d; nothing was written", name, e.start)
			}
			b.Write(src[at:e.start])
			b.WriteString(e.text)
			at = e.end
		}
		b.Write(src[at:])
		formatted, err := format.Source(b.Bytes())
		if err != nil {
			return fmt.Errorf("%s: the fixed file does not parse (%w); nothing was written", name, err)
		}
		out[name] = result{formatted, info.Mode().Perm()}
	}
	for name, r := range out {
		if err := os.WriteFile(name, r.text, r.mode); err != nil {
			return err
		}
	}
	return nil
}
