// Package migrate is an analyzer that rewrites a Gin application from
// github.com/gin-contrib/sessions to github.com/ginsession/ginsession.
//
// Each change it can make soundly is a diagnostic with a suggested fix, the
// form in which go vet's fixers and gopls deliver rewrites; what it cannot
// rewrite is a diagnostic without a fix that says what to do by hand. The
// command ginsession-migrate (cmd/ginsession-migrate) runs it on an
// application and, with -fix, applies the fixes in place.
package migrate

import (
	"go/ast"
	"go/token"
	"go/types"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Import paths the analyzer knows.
const (
	sessionsPath   = "github.com/gin-contrib/sessions"
	ginsessionPath = "github.com/ginsession/ginsession"
	gormBackend    = sessionsPath + "/gorm"
	gormDBType     = "*gorm.io/gorm.DB"
)

// Analyzer finds the uses of gin-contrib/sessions in a package and offers,
// for each, the ginsession code that replaces it.
var Analyzer = &analysis.Analyzer{
	Name: "ginsessionmigrate",
	Doc: "rewrite gin-contrib/sessions code to ginsession\n\n" +
		"Reports every use of github.com/gin-contrib/sessions with a fix that moves it to " +
		"github.com/ginsession/ginsession (imports, store set-up, typed reads, Save, logout, " +
		"remember-me expiry), and reports without a fix what must be changed by hand.",
	URL: "https://github.com/ginsession/ginsession/tree/main/migrate",
	Run: run,
}

func run(pass *analysis.Pass) (any, error) {
	for _, f := range pass.Files {
		if fp := newFilePlan(pass, f); fp != nil {
			fp.migrate()
		}
	}
	return nil, nil
}

// filePlan is the migration of one file: what it imports, which package
// qualifiers other fixes already rewrote, and what the import fix must add.
type filePlan struct {
	pass    *analysis.Pass
	file    *ast.File
	src     []byte
	tf      *token.File
	parents map[ast.Node]ast.Node

	sessionsSpec *ast.ImportSpec
	backendSpecs []*ast.ImportSpec
	// qualifiers are the package names (sessions.X, gormsessions.X) in the
	// file; consumed marks those that an edit already covers.
	qualifiers []*ast.Ident
	consumed   map[*ast.Ident]bool
	done       map[ast.Node]bool
	needTime   bool
}

func newFilePlan(pass *analysis.Pass, f *ast.File) *filePlan {
	fp := &filePlan{pass: pass, file: f, consumed: map[*ast.Ident]bool{}, done: map[ast.Node]bool{}}
	for _, spec := range f.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		switch {
		case path == sessionsPath:
			fp.sessionsSpec = spec
		case strings.HasPrefix(path, sessionsPath+"/"):
			fp.backendSpecs = append(fp.backendSpecs, spec)
		}
	}
	if fp.sessionsSpec == nil && len(fp.backendSpecs) == 0 {
		return nil
	}
	fp.tf = pass.Fset.File(f.Pos())
	src, err := pass.ReadFile(fp.tf.Name())
	if err != nil {
		return nil // no source to edit (cgo-generated, say): nothing to offer
	}
	fp.src = src
	fp.parents = map[ast.Node]ast.Node{}
	var stack []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		if len(stack) > 0 {
			fp.parents[n] = stack[len(stack)-1]
		}
		stack = append(stack, n)
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && fp.importedPath(id) != "" {
				fp.qualifiers = append(fp.qualifiers, id)
			}
		}
		return true
	})
	return fp
}

// importedPath returns the path of the package that id names, if it names
// gin-contrib/sessions or one of its backends.
func (fp *filePlan) importedPath(id *ast.Ident) string {
	pn, ok := fp.pass.TypesInfo.Uses[id].(*types.PkgName)
	if !ok {
		return ""
	}
	p := pn.Imported().Path()
	if p == sessionsPath || strings.HasPrefix(p, sessionsPath+"/") {
		return p
	}
	return ""
}

// migrate reports the file's migration: the set-up, each session call,
// and last the import fix, which rewrites whatever qualifiers the others
// left.
func (fp *filePlan) migrate() {
	ast.Inspect(fp.file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || fp.done[call] {
			return true
		}
		if fn := fp.sessionsFunc(call.Fun); fn == "Sessions" {
			fp.setup(call)
		} else if sel, ok := call.Fun.(*ast.SelectorExpr); ok && fp.isSessionMethod(sel) {
			fp.method(call, sel)
		}
		return true
	})
	ast.Inspect(fp.file, func(n ast.Node) bool {
		// A method value (f := session.Save) cannot be rewritten call by
		// call.
		if sel, ok := n.(*ast.SelectorExpr); ok && fp.isSessionMethod(sel) {
			if call, ok := fp.parents[sel].(*ast.CallExpr); !ok || call.Fun != sel {
				fp.report(sel, "session.%s used as a method value: rewrite this use by hand against *ginsession.Session", sel.Sel.Name)
			}
		}
		return true
	})
	fp.imports()
}

// sessionsFunc returns the name of the gin-contrib/sessions function that
// fun names, or "".
func (fp *filePlan) sessionsFunc(fun ast.Expr) string {
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if id, ok := sel.X.(*ast.Ident); !ok || fp.importedPath(id) != sessionsPath {
		return ""
	}
	return sel.Sel.Name
}

// isSessionMethod reports whether sel selects a method of the
// gin-contrib/sessions Session interface.
func (fp *filePlan) isSessionMethod(sel *ast.SelectorExpr) bool {
	s, ok := fp.pass.TypesInfo.Selections[sel]
	return ok && s.Kind() == types.MethodVal && isSessionsType(s.Recv(), "Session")
}

// isSessionsType reports whether t is gin-contrib/sessions' type name.
func isSessionsType(t types.Type, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == sessionsPath && n.Obj().Name() == name
}
