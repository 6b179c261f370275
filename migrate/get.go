package migrate

import (
	"go/ast"
	"go/token"
	"go/types"
)

// get rewrites the reads that assert a type, which fail after the move:
// ginsession's JSON brings numbers back as float64, so session.Get("n").(int)
// panics where ginsession.Get[int] decodes an int.
func (fp *filePlan) get(call *ast.CallExpr, sel *ast.SelectorExpr) {
	recv, key := fp.text(sel.X), fp.text(call.Args[0])
	parent := fp.parents[call]
	for {
		p, ok := parent.(*ast.ParenExpr)
		if !ok {
			break
		}
		parent = fp.parents[p]
	}
	switch p := parent.(type) {
	case *ast.TypeAssertExpr:
		if p.Type == nil {
			fp.report(p, "a type switch on session.Get(%s): ginsession decodes JSON, so numbers come back as float64; switch on ginsession.Get[T] reads by hand", key)
			return
		}
		typ := fp.text(p.Type)
		typed := "ginsession.Get[" + typ + "](" + recv + ", " + key + ")"
		// The left-hand side it is assigned to: of x := ..., x = ...,
		// var x = ..., or their two-value forms.
		var lhs []ast.Expr
		switch a := fp.parents[p].(type) {
		case *ast.AssignStmt:
			if len(a.Rhs) == 1 && (a.Tok == token.DEFINE || a.Tok == token.ASSIGN) {
				lhs = a.Lhs
			}
		case *ast.ValueSpec:
			if len(a.Values) == 1 {
				for _, n := range a.Names {
					lhs = append(lhs, n)
				}
			}
		}
		switch {
		case len(lhs) == 2:
			x := fp.newFix()
			x.replace(p.Pos(), p.End(), typed)
			fp.suggest(p, x, "session.Get(%s).(%s) with ok: ginsession.Get[%s] decodes the stored value as %s", key, typ, typ, typ)
		case len(lhs) == 1 && !isBlank(lhs[0]):
			x := fp.newFix()
			x.replace(lhs[0].End(), lhs[0].End(), ", _")
			x.replace(p.Pos(), p.End(), typed)
			fp.suggest(p, x, "session.Get(%s).(%s): ginsession.Get[%s] decodes the stored value as %s (a missing key gives its zero value instead of a panic)", key, typ, typ, typ)
		default:
			fp.report(p, "session.Get(%s).(%s) inside an expression: read it first with v, ok := ginsession.Get[%s](%s, %s) and use v", key, typ, typ, recv, key)
		}
	case *ast.BinaryExpr:
		other := p.X
		if other == call || ast.Unparen(other) == call {
			other = p.Y
		}
		if !fp.isNil(other) || (p.Op != token.EQL && p.Op != token.NEQ) {
			fp.report(p, "session.Get(%s) compared with a value: ginsession decodes JSON, so a number is a float64 and the comparison changes; compare what ginsession.Get[T] returns", key)
			return
		}
		has := recv + ".Has(" + key + ")"
		if p.Op == token.EQL {
			has = "!" + has
		}
		x := fp.newFix()
		x.replace(p.Pos(), p.End(), has)
		fp.suggest(p, x, "session.Get(%s) %s nil: ginsession's Has", key, p.Op)
	case *ast.AssignStmt:
		if p.Tok == token.DEFINE && len(p.Lhs) == 1 && len(p.Rhs) == 1 {
			fp.getVar(p, call, recv, key)
		}
	}
}

// getVar rewrites v := session.Get(key) when v is only compared with nil
// and asserted to one type T: v becomes a T read with ginsession.Get[T],
// with its ok in a new variable, so that
//
//	v := session.Get("count")
//	if v == nil { count = 0 } else { count = v.(int) }
//
// becomes
//
//	v, vOK := ginsession.Get[int](session, "count")
//	if !vOK { count = 0 } else { count = v }
func (fp *filePlan) getVar(def *ast.AssignStmt, call *ast.CallExpr, recv, key string) {
	id, ok := def.Lhs[0].(*ast.Ident)
	obj := fp.pass.TypesInfo.Defs[id]
	if !ok || obj == nil {
		return
	}
	var typ types.Type
	var typText string
	var nilChecks []*ast.BinaryExpr
	var asserts []*ast.TypeAssertExpr
	other := false
	for _, use := range fp.uses(obj) {
		switch p := fp.parents[use].(type) {
		case *ast.BinaryExpr:
			if (p.Op == token.EQL || p.Op == token.NEQ) && (fp.isNil(p.X) || fp.isNil(p.Y)) {
				nilChecks = append(nilChecks, p)
				continue
			}
		case *ast.TypeAssertExpr:
			if p.Type != nil {
				t := fp.pass.TypesInfo.TypeOf(p.Type)
				if typ == nil {
					typ, typText = t, fp.text(p.Type)
				}
				if types.Identical(t, typ) {
					asserts = append(asserts, p)
					continue
				}
			}
		}
		other = true
	}
	if typ == nil {
		return // never asserted: an untyped read works as before
	}
	if other {
		fp.report(def, "%s := session.Get(%s) is used as %s and in other ways: ginsession decodes JSON, so numbers come back as float64; read it with ginsession.Get[%s] by hand", id.Name, key, typText, typText)
		return
	}
	okName := fp.freshName(fp.enclosingFunc(def), id.Name+"OK")
	x := fp.newFix()
	x.replace(id.End(), id.End(), ", "+okName)
	x.replace(call.Pos(), call.End(), "ginsession.Get["+typText+"]("+recv+", "+key+")")
	for _, b := range nilChecks {
		text := okName
		if b.Op == token.EQL {
			text = "!" + okName
		}
		x.replace(b.Pos(), b.End(), text)
	}
	for _, a := range asserts {
		text := id.Name
		if as, ok := fp.parents[a].(*ast.AssignStmt); ok && len(as.Lhs) == 2 && len(as.Rhs) == 1 {
			text = id.Name + ", " + okName
		}
		x.replace(a.Pos(), a.End(), text)
	}
	fp.suggest(def, x, "%s := session.Get(%s) is read as %s: ginsession.Get[%s] decodes the stored value as %s, and %s says whether there was one", id.Name, key, typText, typText, typText, okName)
}
