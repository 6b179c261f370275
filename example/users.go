package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// user is an account of the demo site.
type user struct {
	ID       string // what the session is bound to (Session.Login)
	Username string // what the person types
	Name     string // what the pages call them
	// passwordHash is the SHA-256 of the password. That keeps the example
	// free of dependencies, and nothing more: SHA-256 is fast and unsalted,
	// so a leaked table falls to a dictionary attack in minutes. A real
	// application stores a slow, salted hash (bcrypt, or argon2id from
	// golang.org/x/crypto) and compares it with that package's function.
	passwordHash [sha256.Size]byte
}

// userTable is the site's tiny, in-memory user database.
type userTable struct {
	byUsername map[string]*user
	byID       map[string]*user
}

// demoAccounts are the accounts the login page tells visitors about.
var demoAccounts = []struct{ id, username, name, password string }{
	{"1", "alice", "Alice", "wonderland"},
	{"2", "bob", "Bob", "builder"},
}

func newUserTable() userTable {
	t := userTable{byUsername: map[string]*user{}, byID: map[string]*user{}}
	for _, a := range demoAccounts {
		u := &user{ID: a.id, Username: a.username, Name: a.name, passwordHash: sha256.Sum256([]byte(a.password))}
		t.byUsername[u.Username] = u
		t.byID[u.ID] = u
	}
	return t
}

// noSuchUser is compared against when the username is unknown, so that a
// wrong username costs the same work as a wrong password.
var noSuchUser = sha256.Sum256([]byte("no such user"))

// authenticate returns the user whose username and password these are.
// The password comparison runs in constant time: how long it takes tells
// nothing about how much of the password was right.
func (t userTable) authenticate(username, password string) (*user, bool) {
	u, found := t.byUsername[strings.ToLower(strings.TrimSpace(username))]
	want := noSuchUser
	if found {
		want = u.passwordHash
	}
	got := sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !found {
		return nil, false
	}
	return u, true
}

// byUserID returns the user a session is bound to.
func (t userTable) byUserID(id string) (*user, bool) {
	u, ok := t.byID[id]
	return u, ok
}
