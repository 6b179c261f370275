package sessiontest

import (
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
)

// history builds small histories by hand, to hold the contract to what it
// must accept and refuse without a database.
type history struct{ ops []porcupine.Operation }

func (h *history) add(client int, call, ret int64, in opInput, out opOutput) {
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret,
		Metadata: opMeta{seq: len(h.ops)}})
}

func (h *history) linearizable() bool { return porcupine.CheckOperations(sessionModel(), h.ops) }

// signedIn starts a history with token 1 a cookie session of user 0
// holding s0=1, made by a login at [0, 1].
func signedIn() *history {
	h := &history{}
	h.add(0, 0, 1, opInput{act: actLogin, req: 1}, opOutput{token: 1})
	h.add(0, 2, 3, opInput{act: actSet, req: 2, token: 1, found: true, signed: true, key: 0, value: 1}, opOutput{})
	return h
}

func loadOf(token int, signed bool, values ...kv) (opInput, opOutput) {
	user := ""
	if signed {
		user = userName(0)
	}
	return opInput{act: actLoad, token: token}, opOutput{found: true, userID: user, values: values}
}

func TestContractMergesOverlappingWritesToDifferentKeys(t *testing.T) {
	h := signedIn()
	in, out := loadOf(1, true, kv{0, 1})
	h.add(1, 10, 11, in, out)
	h.add(2, 10, 11, in, out)
	h.add(1, 12, 20, opInput{act: actSet, req: 3, token: 1, found: true, signed: true, key: 2, value: 2}, opOutput{})
	h.add(2, 12, 20, opInput{act: actSet, req: 4, token: 1, found: true, signed: true, key: 3, value: 3}, opOutput{})
	in, out = loadOf(1, true, kv{0, 1}, kv{2, 2}, kv{3, 3})
	h.add(1, 21, 22, in, out)
	assert.True(t, h.linearizable(), "both writes kept")

	h = signedIn()
	h.add(1, 12, 20, opInput{act: actSet, req: 3, token: 1, found: true, signed: true, key: 2, value: 2}, opOutput{})
	h.add(2, 12, 20, opInput{act: actSet, req: 4, token: 1, found: true, signed: true, key: 3, value: 3}, opOutput{})
	in, out = loadOf(1, true, kv{0, 1}, kv{3, 3})
	h.add(1, 21, 22, in, out)
	assert.False(t, h.linearizable(), "a write lost to an overlapping one")
}

func TestContractRefusesAStaleReadAfterTheWriteReturned(t *testing.T) {
	h := signedIn()
	in, out := loadOf(1, true)
	h.add(1, 4, 5, in, out)
	assert.False(t, h.linearizable(), "the value from before a write that had returned")
}

func TestContractAnswersARequestFromItsLoadButRefusesItsCommitAfterALogout(t *testing.T) {
	h := signedIn()
	in, out := loadOf(1, true, kv{0, 1})
	h.add(1, 10, 11, in, out) // the slow request's load
	h.add(2, 12, 13, opInput{act: actDestroy, token: 1}, opOutput{})
	h.add(1, 14, 15, opInput{act: actSet, req: 5, token: 1, found: true, signed: true, key: 0, value: 9}, opOutput{outcome: outInterrupted})
	assert.True(t, h.linearizable())

	h = signedIn()
	h.add(1, 10, 11, in, out)
	h.add(2, 12, 13, opInput{act: actDestroy, token: 1}, opOutput{})
	h.add(1, 14, 15, opInput{act: actSet, req: 5, token: 1, found: true, signed: true, key: 0, value: 9}, opOutput{})
	assert.False(t, h.linearizable(), "a write that committed after the logout")
}

func TestContractShowsAFlashAtMostOnce(t *testing.T) {
	base := func() *history {
		h := signedIn()
		h.add(0, 4, 5, opInput{act: actAddFlash, req: 3, token: 1, found: true, signed: true, value: 7}, opOutput{})
		for client, req := range []int{10, 11} {
			in, out := loadOf(1, true, kv{0, 1})
			in.req, in.flashes = req, true
			h.add(client+1, 10, 11, in, out)
		}
		return h
	}
	take := func(req int) opInput {
		return opInput{act: actTakeFlashes, req: req, token: 1, found: true, signed: true}
	}
	h := base()
	h.add(1, 12, 20, take(10), opOutput{flashes: []int{7}})
	h.add(2, 12, 20, take(11), opOutput{})
	assert.True(t, h.linearizable(), "one of two overlapping requests shows it")

	h = base()
	h.add(1, 12, 20, take(10), opOutput{flashes: []int{7}})
	h.add(2, 12, 20, take(11), opOutput{flashes: []int{7}})
	assert.False(t, h.linearizable(), "both show it")

	h = base()
	h.add(1, 12, 20, take(10), opOutput{})
	h.add(2, 12, 20, take(11), opOutput{})
	in, out := loadOf(1, true, kv{0, 1})
	in.req, in.flashes = 12, true
	h.add(1, 21, 22, in, out)
	h.add(1, 23, 24, take(12), opOutput{})
	assert.False(t, h.linearizable(), "neither shows it, and it is gone")
}

func TestContractKeepsAFlashQueuedAfterTheLoad(t *testing.T) {
	took := func(shown ...int) *history {
		h := signedIn()
		in, out := loadOf(1, true, kv{0, 1})
		in.req, in.flashes = 10, true
		h.add(1, 4, 5, in, out)
		h.add(2, 6, 7, opInput{act: actAddFlash, req: 11, token: 1, found: true, signed: true, value: 7}, opOutput{})
		h.add(1, 8, 9, opInput{act: actTakeFlashes, req: 10, token: 1, found: true, signed: true}, opOutput{flashes: shown})
		return h
	}
	assert.True(t, took().linearizable())
	assert.False(t, took(7).linearizable(), "a flash the load never saw")
}

// renewal adds a renewal of token 1 to token 2 that commits at [10, 11] and
// retires the old token at [20, 30]: the renewing request's handler ran until
// 20.
func renewal(h *history) {
	in, out := loadOf(1, true, kv{0, 1})
	h.add(1, 5, 9, in, out)
	h.add(1, 10, 11, opInput{act: actRenew, req: 5, token: 1, found: true, signed: true}, opOutput{token: 2})
	h.add(1, 20, 30, opInput{act: actRetire, token: 1}, opOutput{})
}

func TestContractLetsALogoutWinOverARenewalInFlight(t *testing.T) {
	h := signedIn()
	renewal(h)
	h.add(2, 15, 16, opInput{act: actDestroy, token: 1}, opOutput{})
	in, out := loadOf(2, true, kv{0, 1})
	h.add(1, 31, 32, in, out)
	assert.False(t, h.linearizable(), "the renewed session outlived a logout sent while the renewal was in flight")

	h = signedIn()
	renewal(h)
	h.add(2, 31, 32, opInput{act: actDestroy, token: 1}, opOutput{})
	h.add(1, 33, 34, in, out)
	assert.True(t, h.linearizable(), "after the renewing request ended, the old token ends nothing")

	h = signedIn()
	renewal(h)
	in, out = loadOf(1, true, kv{0, 1})
	h.add(2, 15, 16, in, out)
	assert.False(t, h.linearizable(), "the old token still read the session once the renewal committed")
}

func TestContractEndsEveryKindOfSessionAtDestroyUser(t *testing.T) {
	h := signedIn()
	h.add(3, 4, 5, opInput{act: actNewSession}, opOutput{token: 2})
	h.add(4, 6, 7, opInput{act: actDestroyUser}, opOutput{n: 2})
	in, out := loadOf(2, true)
	in.header = true
	h.add(3, 8, 9, in, out)
	assert.False(t, h.linearizable(), "a header session outlived DestroyUser")

	h = signedIn()
	h.add(3, 4, 5, opInput{act: actNewSession}, opOutput{token: 2})
	h.add(4, 6, 7, opInput{act: actDestroyUser}, opOutput{n: 1})
	assert.False(t, h.linearizable(), "DestroyUser counted one of two live sessions")
}

func TestContractFindsNothingForATokenSentTheOtherWay(t *testing.T) {
	h := signedIn()
	in, out := loadOf(1, true, kv{0, 1})
	in.header = true
	h.add(1, 4, 5, in, out)
	assert.False(t, h.linearizable(), "a cookie's token read the session from the header")

	h = signedIn()
	h.add(1, 4, 5, opInput{act: actDestroy, header: true, token: 1}, opOutput{})
	in, out = loadOf(1, true, kv{0, 1})
	h.add(1, 6, 7, in, out)
	assert.True(t, h.linearizable(), "a cookie's token in the header destroyed nothing")
}

func TestContractNeverHandsOutATokenTwice(t *testing.T) {
	h := signedIn()
	h.add(1, 4, 5, opInput{act: actSet, req: 3, key: 0, value: 2}, opOutput{token: 1})
	assert.False(t, h.linearizable())
}

func TestContractEndsASessionWhoseDeadlinePassed(t *testing.T) {
	h := signedIn()
	h.add(1, 4, 5, opInput{act: actExpire, req: 3, token: 1, found: true, signed: true}, opOutput{})
	in, out := loadOf(1, true, kv{0, 1})
	h.add(1, 6, 7, in, out)
	assert.False(t, h.linearizable())

	h = signedIn()
	h.add(1, 4, 5, opInput{act: actExpire, req: 3, token: 1, found: true, signed: true}, opOutput{})
	h.add(2, 6, 7, opInput{act: actDestroyUser}, opOutput{n: 1})
	assert.True(t, h.linearizable(), "its row is still there for DestroyUser to count")
}

func TestContractLetsADeviceSignOutWinOverARenewalInFlight(t *testing.T) {
	h := signedIn()
	renewal(h)
	h.add(2, 15, 16, opInput{act: actSignOutDevice, token: 1}, opOutput{n: 1})
	in, out := loadOf(2, true, kv{0, 1})
	h.add(1, 31, 32, in, out)
	assert.False(t, h.linearizable(), "the device signed out with its listed handle is still signed in")

	h = signedIn()
	renewal(h)
	h.add(2, 15, 16, opInput{act: actSignOutDevice, token: 1}, opOutput{})
	assert.False(t, h.linearizable(), "DestroyUserSession said the listed session was not the user's")

	h = signedIn()
	h.add(2, 4, 5, opInput{act: actLoad, token: 7}, opOutput{})
	h.add(2, 6, 7, opInput{act: actSignOutDevice, token: 7}, opOutput{})
	assert.True(t, h.linearizable(), "a handle of no session of the user ends nothing and says so")
}

func TestContractLetsCleanupDeleteOnlyEndedSessions(t *testing.T) {
	h := signedIn()
	h.add(3, 4, 5, opInput{act: actNewSession}, opOutput{token: 2})
	h.add(3, 6, 7, opInput{act: actExpire, req: 3, token: 2, header: true, found: true, signed: true}, opOutput{})
	h.add(4, 8, 9, opInput{act: actCleanup}, opOutput{})
	h.add(4, 10, 11, opInput{act: actDestroyUser}, opOutput{n: 1})
	assert.True(t, h.linearizable(), "the ended row is gone, the live one counted")

	h = signedIn()
	h.add(4, 8, 9, opInput{act: actCleanup}, opOutput{})
	in, out := loadOf(1, true)
	h.add(1, 10, 11, in, out)
	assert.False(t, h.linearizable(), "cleanup took a live session's values")
}

// minting adds a request that loads token 1 at [4, 5] and calls MintToken
// at [commit, commit+1], with the outcome and the token it returned; between
// them, at [6, 7], what the history puts there.
func minting(h *history, between func(h *history), commit int64, out opOutput) {
	in, lo := loadOf(1, true, kv{0, 1})
	in.req = 10
	h.add(1, 4, 5, in, lo)
	if between != nil {
		between(h)
	}
	h.add(1, commit, commit+1, opInput{act: actMintToken, req: 10, token: 1, found: true, signed: true}, out)
}

func TestContractMintsAnEmptySignedInHeaderSessionFromASignedInOne(t *testing.T) {
	h := signedIn()
	minting(h, nil, 8, opOutput{token: 2})
	in, out := loadOf(2, true)
	in.header = true
	h.add(2, 10, 11, in, out)
	in, out = loadOf(1, true, kv{0, 1})
	h.add(1, 10, 11, in, out)
	h.add(3, 12, 13, opInput{act: actDestroyUser}, opOutput{n: 2})
	assert.True(t, h.linearizable(), "a new signed-in header session with nothing in it; the browser's untouched")

	h = signedIn()
	minting(h, nil, 8, opOutput{token: 2})
	in, out = loadOf(2, true, kv{0, 1})
	in.header = true
	h.add(2, 10, 11, in, out)
	assert.False(t, h.linearizable(), "the minted session showed the source's values")

	h = signedIn()
	minting(h, nil, 8, opOutput{token: 2})
	in, out = loadOf(2, true)
	h.add(2, 10, 11, in, out)
	assert.False(t, h.linearizable(), "the minted token read a session from the cookie")

	h = signedIn()
	minting(h, nil, 8, opOutput{token: 1})
	assert.False(t, h.linearizable(), "MintToken returned the source's own token")
}

func TestContractMintsNothingFromARevokedSignIn(t *testing.T) {
	logout := func(h *history) { h.add(2, 6, 7, opInput{act: actDestroy, token: 1}, opOutput{}) }
	h := signedIn()
	minting(h, logout, 8, opOutput{outcome: outInterrupted})
	assert.True(t, h.linearizable(), "refused after the logout")

	h = signedIn()
	minting(h, logout, 8, opOutput{token: 2})
	assert.False(t, h.linearizable(), "a mint that succeeded after the source was destroyed")

	h = signedIn()
	minting(h, logout, 6, opOutput{token: 2})
	in, out := loadOf(2, true)
	in.header = true
	h.add(2, 10, 11, in, out)
	assert.True(t, h.linearizable(), "a mint overlapping the logout may come first, and then outlives it")

	h = signedIn()
	minting(h, func(h *history) {
		h.add(2, 6, 7, opInput{act: actUnbind, req: 11, token: 1, found: true, signed: true}, opOutput{})
	}, 8, opOutput{token: 2})
	assert.False(t, h.linearizable(), "a mint that succeeded after the source was signed out, keeping the cart")

	h = signedIn()
	minting(h, func(h *history) {
		h.add(2, 6, 7, opInput{act: actExpire, req: 11, token: 1, found: true, signed: true}, opOutput{})
	}, 8, opOutput{token: 2})
	assert.False(t, h.linearizable(), "a mint that succeeded after the source's deadline passed")

	h = signedIn()
	minting(h, func(h *history) {
		h.add(2, 6, 7, opInput{act: actDestroyUser}, opOutput{n: 1})
	}, 8, opOutput{outcome: outInterrupted})
	assert.True(t, h.linearizable(), "refused after DestroyUser")
}

func TestContractMintsNothingFromARetiringToken(t *testing.T) {
	// The renewal commits at [10, 11] and retires token 1 at [20, 30]; the
	// mint loaded token 1 before it and commits while it is in flight.
	h := signedIn()
	renewal(h)
	in, out := loadOf(1, true, kv{0, 1})
	in.req = 20
	h.add(2, 4, 5, in, out)
	h.add(2, 15, 16, opInput{act: actMintToken, req: 20, token: 1, found: true, signed: true}, opOutput{outcome: outInterrupted})
	assert.True(t, h.linearizable(), "the retiring token finds no row to copy")

	h = signedIn()
	renewal(h)
	h.add(2, 4, 5, in, out)
	h.add(2, 15, 16, opInput{act: actMintToken, req: 20, token: 1, found: true, signed: true}, opOutput{token: 3})
	assert.False(t, h.linearizable(), "a retiring token minted a session")
}

func TestContractMintsOnlyForASignedInLoad(t *testing.T) {
	h := &history{}
	h.add(0, 0, 1, opInput{act: actSet, req: 1, key: 0, value: 1}, opOutput{token: 1}) // an anonymous session
	in, out := loadOf(1, false, kv{0, 1})
	in.req = 2
	h.add(0, 2, 3, in, out)
	h.add(0, 4, 5, opInput{act: actMintToken, req: 2, token: 1, found: true}, opOutput{outcome: outNoUser})
	h.add(0, 6, 7, opInput{act: actMintToken, req: 3}, opOutput{outcome: outNoUser}) // no session at all
	assert.True(t, h.linearizable())

	h = &history{}
	h.add(0, 0, 1, opInput{act: actSet, req: 1, key: 0, value: 1}, opOutput{token: 1})
	h.add(0, 2, 3, in, out)
	h.add(0, 4, 5, opInput{act: actMintToken, req: 2, token: 1, found: true}, opOutput{token: 2})
	assert.False(t, h.linearizable(), "an anonymous session minted a signed-in one")

	h = &history{}
	h.add(0, 0, 1, opInput{act: actSet, req: 1, key: 0, value: 1}, opOutput{token: 1})
	h.add(0, 2, 3, in, out)
	h.add(1, 4, 5, opInput{act: actLogin, req: 4, token: 1, found: true}, opOutput{token: 2})
	h.add(0, 6, 7, opInput{act: actMintToken, req: 2, token: 1, found: true}, opOutput{outcome: outInterrupted})
	assert.False(t, h.linearizable(), "a load that saw no user gives ErrNoUser, whatever signed in since")
}

func TestContractEndsAMintedSessionLikeAnyHeaderSession(t *testing.T) {
	h := signedIn()
	minting(h, nil, 8, opOutput{token: 2})
	h.add(1, 10, 11, opInput{act: actDestroyOthers, req: 12, token: 1, found: true, signed: true}, opOutput{n: 1})
	in, out := loadOf(2, true)
	in.header = true
	h.add(2, 12, 13, in, out)
	assert.False(t, h.linearizable(), "the minted session outlived DestroyOthers from its source")

	h = signedIn()
	minting(h, nil, 8, opOutput{token: 2})
	h.add(2, 10, 11, opInput{act: actDestroy, header: true, token: 2}, opOutput{})
	in, out = loadOf(1, true, kv{0, 1})
	h.add(1, 12, 13, in, out)
	h.add(2, 12, 13, opInput{act: actLoad, header: true, token: 2}, opOutput{})
	assert.True(t, h.linearizable(), "its own Destroy ends it and leaves the source")
}
