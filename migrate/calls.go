package migrate

import (
	"go/ast"
	"go/types"
)

// method rewrites one call of a gin-contrib/sessions Session method.
func (fp *filePlan) method(call *ast.CallExpr, sel *ast.SelectorExpr) {
	fp.done[call] = true
	name := sel.Sel.Name
	switch name {
	case "Get", "Set", "Delete":
		if len(call.Args) > 0 && !fp.isString(call.Args[0]) {
			fp.report(call.Args[0], "session.%s with a key of type %s: ginsession's keys are strings; convert the key by hand", name, types.TypeString(fp.pass.TypesInfo.TypeOf(call.Args[0]), types.RelativeTo(fp.pass.Pkg)))
			return
		}
		switch {
		case name == "Get":
			fp.get(call, sel)
		case name == "Set" && len(call.Args) == 2:
			fp.checkJSON(name, call.Args[1])
		}
	case "Save":
		fp.save(call)
	case "Clear":
		fp.clear(call, sel)
	case "Options":
		fp.options(call, sel)
	case "AddFlash", "Flashes":
		if (name == "AddFlash" && len(call.Args) > 1) || (name == "Flashes" && len(call.Args) > 0) {
			fp.report(call, "session.%s with a named flash queue: ginsession has one queue; keep the kind in the message (a struct with Kind and Text) by hand", name)
		} else if name == "AddFlash" && len(call.Args) == 1 {
			fp.checkJSON(name, call.Args[0])
		}
	case "ID":
		fp.report(call, "session.ID(): ginsession keeps the session's ID secret (only its hash is stored); use s.UserID() for who is signed in, or Set an ID of your own")
	}
}

// save removes a Save whose error is dropped: ginsession saves a changed
// session before the response headers go out. A Save whose error is used
// stays: ginsession's Save saves at once and returns the error.
func (fp *filePlan) save(call *ast.CallExpr) {
	var stmt ast.Node
	switch p := fp.parents[call].(type) {
	case *ast.ExprStmt, *ast.DeferStmt:
		stmt = p
	case *ast.AssignStmt:
		if len(p.Lhs) == 1 && isBlank(p.Lhs[0]) {
			stmt = p
		}
	}
	if stmt == nil {
		return
	}
	if _, ok := fp.parents[stmt].(*ast.BlockStmt); !ok {
		if _, ok := fp.parents[stmt].(*ast.CaseClause); !ok {
			return // the statement of an if or for header, say
		}
	}
	x := fp.newFix()
	x.deleteStmt(stmt)
	fp.suggest(call, x, "session.Save() with its error dropped: removed, since ginsession saves a changed session by itself before the headers go out")
}

// clear turns the logout of gin-contrib/sessions, Clear followed by
// Options(sessions.Options{MaxAge: -1}), into Destroy, which deletes the
// session's row and expires its cookie.
func (fp *filePlan) clear(call *ast.CallExpr, sel *ast.SelectorExpr) {
	stmt, ok := fp.parents[call].(*ast.ExprStmt)
	if !ok {
		return
	}
	for _, next := range fp.following(stmt) {
		es, _ := next.(*ast.ExprStmt)
		var oc *ast.CallExpr
		var osel *ast.SelectorExpr
		if es != nil {
			oc, _ = es.X.(*ast.CallExpr)
		}
		if oc != nil {
			osel, _ = oc.Fun.(*ast.SelectorExpr)
		}
		if osel != nil && fp.isSessionMethod(osel) && osel.Sel.Name == "Options" && fp.text(osel.X) == fp.text(sel.X) {
			if age, ok := fp.literalMaxAge(oc); ok && age < 0 {
				fp.done[oc] = true
				if fp.changedAfter(es) {
					fp.consume(es.Pos(), es.End()) // the Options call is part of this step
					fp.report(call, "session.Clear() with Options{MaxAge: %d}, then more changes to the session: gin-contrib dropped them with the session, but after ginsession's Destroy they start a new one; write the logout by hand with s.Destroy() last", age)
					return
				}
				x := fp.newFix()
				x.replace(sel.Sel.Pos(), sel.Sel.End(), "Destroy")
				x.deleteStmt(es)
				fp.suggest(call, x, "session.Clear() with Options{MaxAge: %d}: ginsession's Destroy deletes the session and expires its cookie", age)
			}
			return
		}
		if fp.usesSession(next) {
			// A Set between the two would survive gin-contrib's logout
			// no more than Destroy, but after Destroy it starts a new
			// session: leave the pair alone.
			return
		}
	}
}

// changedAfter reports whether a statement after stmt in its block calls a
// Session method other than Save.
func (fp *filePlan) changedAfter(stmt ast.Stmt) bool {
	for _, next := range fp.following(stmt) {
		changed := false
		ast.Inspect(next, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && fp.isSessionMethod(sel) && sel.Sel.Name != "Save" {
				changed = true
			}
			return !changed
		})
		if changed {
			return true
		}
	}
	return false
}

// usesSession reports whether n calls a method of a gin-contrib/sessions
// Session.
func (fp *filePlan) usesSession(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && fp.isSessionMethod(sel) {
			found = true
		}
		return !found
	})
	return found
}

// checkJSON reports a value that ginsession's JSON cannot keep as gob did:
// one it cannot encode at all (a channel, a function, a complex number),
// and a struct with no exported fields, which encodes as {} and comes back
// empty.
func (fp *filePlan) checkJSON(method string, value ast.Expr) {
	t := fp.pass.TypesInfo.TypeOf(value)
	if t == nil {
		return
	}
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	if hasMethod(t, "MarshalJSON") || hasMethod(t, "MarshalText") {
		return
	}
	var why string
	switch u := t.Underlying().(type) {
	case *types.Chan, *types.Signature:
		why = "JSON cannot encode it, so the request fails with ginsession.ErrEncode"
	case *types.Basic:
		if u.Info()&types.IsComplex != 0 {
			why = "JSON cannot encode it, so the request fails with ginsession.ErrEncode"
		}
	case *types.Struct:
		exported := false
		for i := range u.NumFields() {
			exported = exported || u.Field(i).Exported()
		}
		if !exported && u.NumFields() > 0 {
			why = "it has no exported fields, so JSON keeps it as {} and it comes back empty"
		}
	}
	if why != "" {
		fp.report(value, "session.%s of a %s: ginsession keeps values as JSON, and %s; store a form of it that JSON keeps (exported fields) by hand", method, types.TypeString(t, types.RelativeTo(fp.pass.Pkg)), why)
	}
}

// hasMethod reports whether t or *t has the named method.
func hasMethod(t types.Type, name string) bool {
	obj, _, _ := types.LookupFieldOrMethod(types.NewPointer(t), true, nil, name)
	_, ok := obj.(*types.Func)
	return ok
}

// following returns the statements after stmt in its block.
func (fp *filePlan) following(stmt ast.Stmt) []ast.Stmt {
	var list []ast.Stmt
	switch b := fp.parents[stmt].(type) {
	case *ast.BlockStmt:
		list = b.List
	case *ast.CaseClause:
		list = b.Body
	}
	for i, s := range list {
		if s == stmt {
			return list[i+1:]
		}
	}
	return nil
}

// literalMaxAge returns the constant MaxAge of an Options call whose only
// other fields are ones ginsession already does (Path "/", HttpOnly true).
func (fp *filePlan) literalMaxAge(oc *ast.CallExpr) (int64, bool) {
	if len(oc.Args) != 1 {
		return 0, false
	}
	lit, ok := ast.Unparen(oc.Args[0]).(*ast.CompositeLit)
	if !ok {
		return 0, false
	}
	var age int64
	found := false
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			return 0, false
		}
		tv := fp.pass.TypesInfo.Types[kv.Value]
		switch kv.Key.(*ast.Ident).Name {
		case "MaxAge":
			if age, found = fp.constInt(kv.Value); !found {
				return 0, false
			}
		case "Path":
			if tv.Value == nil || tv.Value.ExactString() != `"/"` {
				return 0, false
			}
		case "HttpOnly":
			if tv.Value == nil || tv.Value.ExactString() != "true" {
				return 0, false
			}
		default:
			return 0, false
		}
	}
	return age, found
}

// options rewrites a session's own Options: MaxAge -1 logs out (Destroy),
// MaxAge 0 makes a browser session (RememberMe(false)), and a positive
// MaxAge, a remember-me at login, becomes the session's own idle timeout.
func (fp *filePlan) options(call *ast.CallExpr, sel *ast.SelectorExpr) {
	age, ok := fp.literalMaxAge(call)
	if !ok {
		fp.report(call, "session.Options with settings other than a constant MaxAge: in ginsession the cookie's Path, Domain, Secure and SameSite are store-wide (WithCookiePath...), and a session's own expiry is s.RememberMe, s.SetIdleTimeout or s.SetDeadline; rewrite it by hand")
		return
	}
	recv := fp.text(sel.X)
	if stmt, ok := fp.parents[call].(*ast.ExprStmt); ok && age < 0 && fp.changedAfter(stmt) {
		fp.report(call, "session.Options(sessions.Options{MaxAge: %d}), then more changes to the session: gin-contrib dropped them with the session, but after ginsession's Destroy they start a new one; write the logout by hand with s.Destroy() last", age)
		return
	}
	var text, msg string
	switch {
	case age < 0:
		text, msg = recv+".Destroy()", "ginsession's Destroy deletes the session and expires its cookie"
	case age == 0:
		text, msg = recv+".RememberMe(false)", "a cookie without Max-Age is ginsession's RememberMe(false)"
	default:
		fp.needTime = true
		text = recv + ".SetIdleTimeout(" + durationText(age) + ")"
		msg = "the session's own idle timeout, stored with it, and the cookie's Max-Age with it"
	}
	x := fp.newFix()
	x.replace(call.Pos(), call.End(), text)
	fp.suggest(call, x, "session.Options(sessions.Options{MaxAge: %d}): %s", age, msg)
}

func isBlank(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "_"
}
