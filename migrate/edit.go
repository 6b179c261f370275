package migrate

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strconv"

	"golang.org/x/tools/go/analysis"
)

// fix is the edits of one diagnostic under construction.
type fix struct {
	fp    *filePlan
	edits []analysis.TextEdit
}

// replace replaces [pos, end) with text. Once the fix is reported, the
// package qualifiers inside the range are its own: the import fix leaves
// them alone.
func (x *fix) replace(pos, end token.Pos, text string) {
	x.edits = append(x.edits, analysis.TextEdit{Pos: pos, End: end, NewText: []byte(text)})
}

// deleteStmt deletes a statement, with its whole line when nothing else
// shares it.
func (x *fix) deleteStmt(s ast.Node) {
	pos, end := x.fp.lines(s)
	x.replace(pos, end, "")
}

func (fp *filePlan) consume(pos, end token.Pos) {
	for _, q := range fp.qualifiers {
		if q.Pos() >= pos && q.End() <= end {
			fp.consumed[q] = true
		}
	}
}

// lines widens n to the whole lines it covers, with the trailing comment
// and newline, if nothing but blanks precedes it on its first line.
func (fp *filePlan) lines(n ast.Node) (token.Pos, token.Pos) {
	start, end := fp.tf.Offset(n.Pos()), fp.tf.Offset(n.End())
	lineStart := start
	for lineStart > 0 && (fp.src[lineStart-1] == ' ' || fp.src[lineStart-1] == '\t') {
		lineStart--
	}
	if lineStart > 0 && fp.src[lineStart-1] != '\n' {
		return n.Pos(), n.End()
	}
	rest := fp.src[end:]
	nl := bytes.IndexByte(rest, '\n')
	if nl < 0 {
		nl = len(rest)
	} else {
		nl++
	}
	tail := bytes.TrimSpace(rest[:nl])
	if len(tail) > 0 && !bytes.HasPrefix(tail, []byte("//")) {
		return n.Pos(), n.End() // another statement follows on the line
	}
	return fp.tf.Pos(lineStart), fp.tf.Pos(end + nl)
}

// text returns n's source with the gin-contrib/sessions qualifiers in it
// already renamed to ginsession.
func (fp *filePlan) text(n ast.Node) string {
	start, end := fp.tf.Offset(n.Pos()), fp.tf.Offset(n.End())
	var b bytes.Buffer
	at := start
	for _, q := range fp.qualifiers {
		off := fp.tf.Offset(q.Pos())
		if off < at || off >= end || fp.importedPath(q) != sessionsPath {
			continue
		}
		b.Write(fp.src[at:off])
		b.WriteString("ginsession")
		at = off + len(q.Name)
	}
	b.Write(fp.src[at:end])
	return b.String()
}

// suggest reports a diagnostic over n whose fix is x's edits.
func (fp *filePlan) suggest(n ast.Node, x *fix, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, e := range x.edits {
		fp.consume(e.Pos, e.End)
	}
	fp.pass.Report(analysis.Diagnostic{
		Pos: n.Pos(), End: n.End(), Message: msg,
		SuggestedFixes: []analysis.SuggestedFix{{Message: msg, TextEdits: x.edits}},
	})
}

// report reports a diagnostic over n without a fix: a step to take by hand.
// The package's names inside n are part of that step, not reported again;
// only sessions.Default and sessions.Session are still renamed by the
// import fix, since their rename is right wherever they are.
func (fp *filePlan) report(n ast.Node, format string, args ...any) {
	for _, q := range fp.qualifiers {
		if name := fp.parents[q].(*ast.SelectorExpr).Sel.Name; name != "Default" && name != "Session" && q.Pos() >= n.Pos() && q.End() <= n.End() {
			fp.consumed[q] = true
		}
	}
	fp.pass.Report(analysis.Diagnostic{Pos: n.Pos(), End: n.End(), Message: fmt.Sprintf(format, args...)})
}

// newFix starts a fix.
func (fp *filePlan) newFix() *fix { return &fix{fp: fp} }

// enclosingFunc returns the body of the function literal or declaration
// around n.
func (fp *filePlan) enclosingFunc(n ast.Node) *ast.BlockStmt {
	for p := fp.parents[n]; p != nil; p = fp.parents[p] {
		switch f := p.(type) {
		case *ast.FuncLit:
			return f.Body
		case *ast.FuncDecl:
			return f.Body
		}
	}
	return nil
}

// freshName returns base, or base with a number, that no identifier in
// body or the package's scope already uses, so that a new variable shadows
// nothing and is shadowed by nothing.
func (fp *filePlan) freshName(body ast.Node, base string) string {
	used := map[string]bool{}
	ast.Inspect(body, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			used[id.Name] = true
		}
		return true
	})
	name := base
	for i := 2; used[name] || fp.pass.Pkg.Scope().Lookup(name) != nil || types.Universe.Lookup(name) != nil; i++ {
		name = base + strconv.Itoa(i)
	}
	return name
}

// constInt returns the value of an integer constant expression.
func (fp *filePlan) constInt(e ast.Expr) (int64, bool) {
	tv, ok := fp.pass.TypesInfo.Types[e]
	if !ok || tv.Value == nil {
		return 0, false
	}
	v, err := strconv.ParseInt(tv.Value.ExactString(), 10, 64)
	return v, err == nil
}

// durationText writes secs seconds as a time.Duration expression in the
// largest whole unit: 604800 becomes 7 * 24 * time.Hour.
func durationText(secs int64) string {
	for _, u := range []struct {
		secs int64
		unit string
	}{{86400, "24 * time.Hour"}, {3600, "time.Hour"}, {60, "time.Minute"}, {1, "time.Second"}} {
		if secs%u.secs == 0 {
			if secs == u.secs {
				return u.unit
			}
			return strconv.FormatInt(secs/u.secs, 10) + " * " + u.unit
		}
	}
	panic("unreachable")
}

// isString reports whether e is a string (or an untyped string constant),
// which is what ginsession's keys are.
func (fp *filePlan) isString(e ast.Expr) bool {
	t := fp.pass.TypesInfo.TypeOf(e)
	b, ok := t.(*types.Basic)
	return ok && (b.Kind() == types.String || b.Kind() == types.UntypedString)
}

// isNil reports whether e is the predeclared nil.
func (fp *filePlan) isNil(e ast.Expr) bool {
	return fp.pass.TypesInfo.Types[e].IsNil()
}

// uses returns the identifiers in the file that refer to obj.
func (fp *filePlan) uses(obj types.Object) []*ast.Ident {
	var ids []*ast.Ident
	ast.Inspect(fp.file, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && fp.pass.TypesInfo.Uses[id] == obj {
			ids = append(ids, id)
		}
		return true
	})
	slices.SortFunc(ids, func(a, b *ast.Ident) int { return int(a.Pos() - b.Pos()) })
	return ids
}
