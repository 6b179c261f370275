package migrate

import (
	"go/ast"
	"go/token"
	"go/types"
	"path"
	"strings"
)

// setup rewrites sessions.Sessions(name, store) into ginsession.New(db,
// ginsession.WithCookieName(name), options...), where db is what the gorm
// backend was given or, for a backend without a database, the one *gorm.DB
// in scope. The store's constructor and its Options call go away.
func (fp *filePlan) setup(call *ast.CallExpr) {
	fp.done[call] = true
	// Whatever happens, this call is reported here, not again by the import
	// fix as an unknown use of the package.
	fp.consume(call.Fun.Pos(), call.Fun.End())
	if len(call.Args) != 2 {
		fp.report(call, "sessions.Sessions with %d arguments: rewrite it by hand as ginsession.New(db, ginsession.WithCookieName(name))", len(call.Args))
		return
	}
	name, storeArg := call.Args[0], call.Args[1]
	x := fp.newFix()

	ctor, optCalls, ok := fp.storeOf(call, storeArg, x)
	if !ok {
		return
	}
	// fail reports why the set-up stays as it is. The store's lines are
	// part of that manual step, not reported again one by one.
	fail := func(format string, args ...any) {
		for _, e := range x.edits {
			fp.consume(e.Pos, e.End)
		}
		for _, oc := range optCalls {
			fp.consume(oc.Pos(), oc.End())
		}
		fp.report(call, format+"; then delete the store", args...)
	}
	backend := fp.calleePath(ctor)
	var db, note string
	if backend == gormBackend && len(ctor.Args) > 0 {
		if !fp.visibleAt(ctor.Args[0], call.Pos()) {
			fail("sessions.Sessions: the *gorm.DB given to the gorm store is not in scope here; write r.Use(ginsession.New(db, ginsession.WithCookieName(%s))) by hand", fp.text(name))
			return
		}
		db = fp.text(ctor.Args[0])
		note = "ginsession.New keeps the sessions in the same database, table gin_sessions"
	} else {
		dbs := fp.gormDBsAt(call.Pos())
		if len(dbs) != 1 {
			todo := "there is no *gorm.DB in scope here; open one with gorm.Open"
			if len(dbs) > 1 {
				todo = "there is more than one *gorm.DB in scope here (" + strings.Join(dbs, ", ") + "); choose the one to keep them in"
			}
			fail("sessions.Sessions with the %s store: ginsession keeps sessions in a database and %s, and write r.Use(ginsession.New(db, ginsession.WithCookieName(%s)))",
				path.Base(backend), todo, fp.text(name))
			return
		}
		db = dbs[0]
		note = "the " + path.Base(backend) + " store kept sessions outside any database; ginsession.New keeps them in " + db + ", the one *gorm.DB in scope, table gin_sessions (no secret key needed)"
	}

	opts := []string{db, "ginsession.WithCookieName(" + fp.text(name) + ")"}
	for _, oc := range optCalls {
		more, ok := fp.storeOptions(oc)
		if !ok {
			fail("sessions.Sessions(%s, ...): not rewritten, since the store's options cannot all be carried over (reported); write r.Use(ginsession.New(%s, ginsession.WithCookieName(%s), options...)) by hand", fp.text(name), db, fp.text(name))
			return
		}
		opts = append(opts, more...)
		x.deleteStmt(fp.parents[oc])
	}
	x.replace(call.Pos(), call.End(), "ginsession.New("+strings.Join(opts, ", ")+")")
	fp.suggest(call, x, "sessions.Sessions(%s, ...): %s", fp.text(name), note)
}

// storeOf finds the backend constructor behind the store argument of
// sessions.Sessions and the store's Options calls, and adds the deletion
// of the constructor's statement to x. It reports, and returns false, when
// the store is used in a way it cannot follow.
func (fp *filePlan) storeOf(call *ast.CallExpr, arg ast.Expr, x *fix) (*ast.CallExpr, []*ast.CallExpr, bool) {
	if c, ok := ast.Unparen(arg).(*ast.CallExpr); ok && fp.isBackendCtor(c) {
		return c, nil, true // sessions.Sessions("name", cookie.NewStore(key))
	}
	id, ok := ast.Unparen(arg).(*ast.Ident)
	obj, _ := fp.pass.TypesInfo.Uses[id].(*types.Var)
	if !ok || obj == nil || obj.Parent() == fp.pass.Pkg.Scope() {
		fp.report(call, "sessions.Sessions: the store is not a local variable made by a gin-contrib/sessions backend; write r.Use(ginsession.New(db, ginsession.WithCookieName(...))) by hand")
		return nil, nil, false
	}
	var ctor *ast.CallExpr
	var decl ast.Node
	ast.Inspect(fp.file, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if ok && as.Tok == token.DEFINE && len(as.Lhs) == 1 && len(as.Rhs) == 1 {
			if lid, ok := as.Lhs[0].(*ast.Ident); ok && fp.pass.TypesInfo.Defs[lid] == obj {
				ctor, _ = as.Rhs[0].(*ast.CallExpr)
				decl = as
			}
		}
		return decl == nil
	})
	if ctor == nil || !fp.isBackendCtor(ctor) {
		fp.report(call, "sessions.Sessions: the store variable %s is not made by store := backend.NewStore(...); write r.Use(ginsession.New(db, ginsession.WithCookieName(...))) by hand", id.Name)
		return nil, nil, false
	}
	var opts []*ast.CallExpr
	for _, use := range fp.uses(obj) {
		if use == id {
			continue
		}
		sel, _ := fp.parents[use].(*ast.SelectorExpr)
		oc, _ := fp.parents[sel].(*ast.CallExpr)
		if sel != nil && sel.Sel.Name == "Options" && oc != nil && len(oc.Args) == 1 {
			if _, stmt := fp.parents[oc].(*ast.ExprStmt); stmt {
				opts = append(opts, oc)
				continue
			}
		}
		fp.report(use, "the store variable %s is used here as well as in sessions.Sessions: ginsession has no store object of this kind; rewrite this use by hand", id.Name)
		fp.report(call, "sessions.Sessions: the store variable %s has other uses (reported); rewrite the set-up by hand as r.Use(ginsession.New(db, ginsession.WithCookieName(...)))", id.Name)
		return nil, nil, false
	}
	x.deleteStmt(decl)
	return ctor, opts, true
}

// isBackendCtor reports whether c calls a function of a gin-contrib/sessions
// backend package (gorm.NewStore, cookie.NewStore, memstore.NewStore...).
func (fp *filePlan) isBackendCtor(c *ast.CallExpr) bool {
	return strings.HasPrefix(fp.calleePath(c), sessionsPath+"/")
}

// calleePath returns the import path of the package whose function c calls.
func (fp *filePlan) calleePath(c *ast.CallExpr) string {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return ""
	}
	return fp.importedPath(id)
}

// storeOptions turns store.Options(sessions.Options{...}) into ginsession
// options. It reports, and returns false, for a field it cannot carry over.
func (fp *filePlan) storeOptions(oc *ast.CallExpr) ([]string, bool) {
	lit, ok := ast.Unparen(oc.Args[0]).(*ast.CompositeLit)
	if !ok || !isSessionsType(fp.pass.TypesInfo.TypeOf(lit), "Options") {
		fp.report(oc, "store.Options with options that are not a sessions.Options{...} literal: give ginsession.New the matching options (WithCookiePath, WithIdleTimeout, WithSecure...) by hand")
		return nil, false
	}
	var opts []string
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			fp.report(oc, "store.Options with an unkeyed sessions.Options literal: give ginsession.New the matching options by hand")
			return nil, false
		}
		v := fp.text(kv.Value)
		switch kv.Key.(*ast.Ident).Name {
		case "Path":
			if tv := fp.pass.TypesInfo.Types[kv.Value]; tv.Value == nil || tv.Value.ExactString() != `"/"` {
				opts = append(opts, "ginsession.WithCookiePath("+v+")") // "/" is the default
			}
		case "Domain":
			opts = append(opts, "ginsession.WithCookieDomain("+v+")")
		case "Secure":
			opts = append(opts, "ginsession.WithSecure("+v+")")
		case "SameSite":
			opts = append(opts, "ginsession.WithSameSite("+v+")")
		case "HttpOnly":
			// ginsession's cookie is always HttpOnly.
			if b, ok := fp.pass.TypesInfo.Types[kv.Value]; !ok || b.Value == nil || b.Value.ExactString() != "true" {
				fp.report(kv, "HttpOnly other than true: ginsession's cookie is always HttpOnly, so scripts cannot read it; drop this field or keep what scripts need in a cookie of your own")
				return nil, false
			}
		case "MaxAge":
			n, isConst := fp.constInt(kv.Value)
			switch {
			case !isConst:
				fp.needTime = true
				opts = append(opts, "ginsession.WithIdleTimeout(time.Duration("+v+") * time.Second)")
			case n > 0:
				fp.needTime = true
				opts = append(opts, "ginsession.WithIdleTimeout("+durationText(n)+")")
			case n == 0:
				opts = append(opts, "ginsession.WithPersistentCookie(false)")
			default:
				fp.report(kv, "a store-wide MaxAge of %d deletes every cookie at once; remove it, or choose WithIdleTimeout", n)
				return nil, false
			}
		default:
			fp.report(kv, "store.Options field %s has no ginsession option: set it by hand", kv.Key.(*ast.Ident).Name)
			return nil, false
		}
	}
	return opts, true
}

// visibleAt reports whether every variable e refers to is in scope, as the
// same variable, at pos.
func (fp *filePlan) visibleAt(e ast.Expr, pos token.Pos) bool {
	scope := fp.pass.Pkg.Scope().Innermost(pos)
	ok := scope != nil
	ast.Inspect(e, func(n ast.Node) bool {
		id, isID := n.(*ast.Ident)
		if !isID || !ok {
			return ok
		}
		if v, isVar := fp.pass.TypesInfo.Uses[id].(*types.Var); isVar && !v.IsField() {
			if _, found := scope.LookupParent(id.Name, pos); found != v {
				ok = false
			}
		}
		return true
	})
	return ok
}

// gormDBsAt returns the names of the *gorm.DB variables in scope at pos.
func (fp *filePlan) gormDBsAt(pos token.Pos) []string {
	inner := fp.pass.Pkg.Scope().Innermost(pos)
	var names []string
	for s := inner; s != nil && s != types.Universe; s = s.Parent() {
		for _, name := range s.Names() {
			v, ok := s.Lookup(name).(*types.Var)
			if !ok || types.TypeString(v.Type(), nil) != gormDBType {
				continue
			}
			if s != fp.pass.Pkg.Scope() && v.Pos() > pos {
				continue // declared later in the block
			}
			if _, found := inner.LookupParent(name, pos); found == v {
				names = append(names, name)
			}
		}
	}
	return names
}
