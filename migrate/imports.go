package migrate

import (
	"go/ast"
	"strconv"
)

// imports reports the file's import fix: ginsession in place of
// gin-contrib/sessions, the backends' imports dropped once nothing uses
// them, "time" added when another fix needs it, and the qualifiers that no
// other fix rewrote: sessions.Default becomes ginsession.Default and the
// type sessions.Session becomes *ginsession.Session. Any other use of the
// two packages is reported to be rewritten by hand.
func (fp *filePlan) imports() {
	x := fp.newFix()
	backendUsed := map[string]bool{}
	for _, q := range fp.qualifiers {
		if fp.consumed[q] {
			continue
		}
		sel := fp.parents[q].(*ast.SelectorExpr)
		p := fp.importedPath(q)
		switch {
		case p != sessionsPath:
			backendUsed[p] = true
			fp.report(sel, "%s.%s: ginsession has no separate store backends (it keeps sessions in its own table of your *gorm.DB); remove this use by hand", q.Name, sel.Sel.Name)
		case sel.Sel.Name == "Default":
			x.replace(q.Pos(), q.End(), "ginsession")
		case sel.Sel.Name == "Session":
			x.replace(sel.Pos(), sel.End(), "*ginsession.Session")
		default:
			fp.report(sel, "%s.%s: %s", q.Name, sel.Sel.Name, unsupported(sel.Sel.Name))
		}
	}
	if fp.sessionsSpec == nil {
		return
	}
	hasTime, hasGinsession := false, false
	for _, spec := range fp.file.Imports {
		switch path, _ := strconv.Unquote(spec.Path.Value); path {
		case "time":
			hasTime = spec.Name == nil
		case ginsessionPath:
			hasGinsession = spec.Name == nil
		}
	}
	if hasGinsession {
		fp.deleteImport(x, fp.sessionsSpec)
	} else {
		x.replace(fp.sessionsSpec.Pos(), fp.sessionsSpec.End(), strconv.Quote(ginsessionPath))
	}
	for _, spec := range fp.backendSpecs {
		if path, _ := strconv.Unquote(spec.Path.Value); !backendUsed[path] {
			fp.deleteImport(x, spec)
		}
	}
	if fp.needTime && !hasTime {
		decl := fp.importDecl(fp.sessionsSpec)
		if decl.Lparen.IsValid() {
			x.replace(decl.Lparen+1, decl.Lparen+1, "\n\t\"time\"")
		} else {
			x.replace(decl.Pos(), decl.Pos(), "import \"time\"\n")
		}
	}
	fp.suggest(fp.sessionsSpec, x, "import %s in place of %s", ginsessionPath, sessionsPath)
}

// importDecl returns the import declaration that holds spec.
func (fp *filePlan) importDecl(spec *ast.ImportSpec) *ast.GenDecl {
	return fp.parents[spec].(*ast.GenDecl)
}

// deleteImport deletes spec, with its declaration when it stands alone
// (import "path", without parentheses).
func (fp *filePlan) deleteImport(x *fix, spec *ast.ImportSpec) {
	if decl := fp.importDecl(spec); !decl.Lparen.IsValid() {
		x.deleteStmt(decl)
		return
	}
	x.deleteStmt(spec)
}

// unsupported says what to do instead of a gin-contrib/sessions identifier
// that has no ginsession counterpart.
func unsupported(name string) string {
	switch name {
	case "SessionsMany", "DefaultMany":
		return "ginsession has one session per request; keep the values of the named sessions under distinct keys of that one session"
	case "Options":
		return "ginsession's cookie settings are options of ginsession.New (WithCookiePath, WithCookieDomain, WithSecure, WithSameSite, WithIdleTimeout), and a session's own expiry is s.RememberMe, s.SetIdleTimeout or s.SetDeadline"
	case "Store":
		return "ginsession has no pluggable store: it keeps sessions in a table of your *gorm.DB (ginsession.NewStore)"
	case "DefaultKey":
		return "ginsession's session is reached with ginsession.Default(c) or ginsession.FromContext(ctx), not a context key"
	}
	return "no ginsession counterpart; rewrite this use by hand"
}
