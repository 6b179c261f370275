package ginsession

import (
	"strconv"
	"strings"

	"github.com/ginsession/ginsession/internal/stmts"
)

// The store's statements, for this repository's diagnostics only (see
// package internal/stmts): no exported API shows them.
func init() {
	stmts.Of = func(s any) []stmts.Statement {
		st := s.(*Store)
		var table strings.Builder
		st.db.Dialector.QuoteTo(&table, st.cfg.tableName)
		texts := st.statements(table.String(), "")
		out := make([]stmts.Statement, numStmts)
		for i, q := range texts {
			out[i] = stmts.Statement{Name: stmtName(stmtID(i)), Text: bindVars(st.db, q)}
		}
		return out
	}
	stmts.Args = func(s any, args []any) []any {
		return s.(*Store).run.driverArgs(append([]any(nil), args...))
	}
}

// stmtName names statement id for diagnostics.
func stmtName(id stmtID) string {
	switch {
	case id == sLoad:
		return "load"
	case id >= sLoadAny && id < sInsert:
		return "loadAny" + strconv.Itoa(int(id-sLoadAny)+2)
	case id == sInsert:
		return "insert"
	case id == sMoveExpiry:
		return "moveExpiry"
	case id == sSee:
		return "see"
	case id == sDelete:
		return "delete"
	case id >= sUpdate && id < sUserSessions:
		name := "update"
		cols := int(id - sUpdate)
		if cols&updateID != 0 {
			name += "+id"
		}
		if cols&updateUser != 0 {
			name += "+user"
		}
		if cols&updateExpiry != 0 {
			name += "+expiry"
		}
		return name
	case id == sUserSessions:
		return "userSessions"
	case id == sDestroyUserSession:
		return "destroyUserSession"
	case id == sDestroyUser:
		return "destroyUser"
	case id == sDestroyOthers:
		return "destroyOthers"
	case id == sDeleteExpired:
		return "deleteExpired"
	case id == sEndRenewal:
		return "endRenewal"
	case id == sDeleteOfKind:
		return "deleteOfKind"
	case id == sTouch:
		return "touch"
	case id == sLockUser:
		return "lockUser"
	case id == sLockUserShared:
		return "lockUserShared"
	case id == sInsertUser:
		return "insertUser"
	case id == sInsertAnon:
		return "insertAnon"
	case id == sAnyExpired:
		return "anyExpired"
	case id == sMintToken:
		return "mintToken"
	case id == sMintTokenUntil:
		return "mintTokenUntil"
	case id == sSessions:
		return "sessions"
	case id == sUserSessionsAfter:
		return "userSessionsAfter"
	case id == sCountSessions:
		return "countSessions"
	case id == sCountByKind:
		return "countByKind"
	}
	return "stmt" + strconv.Itoa(int(id))
}
