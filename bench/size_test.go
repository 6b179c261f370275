package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/ginsession/ginsession/integration/sessionfill"
	"gorm.io/gorm"
)

// sizeSmall is the small table of BenchmarkTableSize, the figure the large
// one is held to.
const sizeSmall = 10_000

// sizeLarge is the large table of BenchmarkTableSize on srv: ten million
// rows on a network server, a million on SQLite, or
// GINSESSION_BENCH_ROWS_LARGE on every server.
func sizeLarge(b *testing.B, srv server) int {
	if v := os.Getenv("GINSESSION_BENCH_ROWS_LARGE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("GINSESSION_BENCH_ROWS_LARGE=%q: want a positive number", v)
		}
		return n
	}
	if srv.name == "sqlite" {
		return 1_000_000
	}
	return 10_000_000
}

// sizeUserSessions is how many sessions the users of op=users and
// op=destroy-user have, at every table size.
const sizeUserSessions = 3

// A sized table is a session table filled with generated rows, its store
// and an engine on it.
type sized struct {
	t     *target
	st    *ginsession.Store
	r     *gin.Engine
	table string
	// mark is above the IDs of every generated row (64 hex digits with
	// leading zeros) and below nearly every ID the store draws: rows past
	// it are the benchmark's own.
	mark string
}

// fill gives a table of rows generated rows on srv, with its store and
// engine, for b and its sub-benchmarks (-count repeats those, not b), and
// logs its bytes a row. The table goes when b ends.
func fill(b *testing.B, srv server, dsn string, rows int) *sized {
	t := srv.connect(b, dsn)
	// The process's own table, which a second run at the same time on the
	// same server leaves alone.
	s := &sized{t: t, table: "bench_size_" + strconv.Itoa(rows) + "_" + strconv.Itoa(os.Getpid()), mark: "00000001"}
	t.fresh(b, s.table)
	ctx := context.Background()
	opts := []ginsession.Option{ginsession.WithTableName(s.table), ginsession.WithCleanupInterval(0),
		ginsession.WithErrorHandler(func(c *gin.Context, err error) {
			c.String(http.StatusInternalServerError, err.Error())
		})}
	if _, err := ginsession.NewStore(t.db, opts...); err != nil {
		b.Fatal(err)
	}
	begin := time.Now()
	if _, err := sessionfill.Fill(ctx, t.db, s.table, rows, begin); err != nil {
		b.Fatal(err)
	}
	filled := time.Since(begin)
	st, err := ginsession.NewStore(t.db, opts...) // builds the indexes
	if err != nil {
		b.Fatal(err)
	}
	if err := sessionfill.Analyze(ctx, t.db, s.table); err != nil {
		b.Fatal(err)
	}
	total, parts, err := sessionfill.Sizes(ctx, t.db, s.table)
	if err != nil {
		b.Fatal(err)
	}
	built := time.Since(begin) - filled
	settled, how, err := settle(ctx, srv, t.db)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("table size: server=%s rows=%d filled in %s, indexed and analyzed in %s, settled in %s (%s); %s", srv.name, rows,
		filled.Round(time.Millisecond), built.Round(time.Millisecond), settled.Round(time.Millisecond), how, sessionfill.PerRow(total, parts, rows))
	s.st, s.r = st, sizedEngine(st)
	return s
}

// settle waits until the server has written the fill out, and returns how
// long that took and what it waited for. A table of ten million rows filled
// in a minute leaves gigabytes of dirty pages, which the server writes out
// over the next minutes, on the same two cores as the benchmark: measured
// right after the fill, a read of one cached row took 1.5x its time on the
// small table. A live site's table grows over months, and its writes are
// spread with it. PostgreSQL: a CHECKPOINT (a superuser's or
// pg_checkpoint's, as bench/run's DSN is). MariaDB, whose benchmark user
// may not flush: until neither the dirty pages of InnoDB's buffer pool nor
// the undo logs its purge has yet to apply have fallen for three samples in
// a row (its page cleaner writes an idle server's out in well under a
// minute, down to a few hundred pages that it leaves), for at most three
// minutes. SQLite: a checkpoint that empties the write-ahead log.
func settle(ctx context.Context, srv server, db *gorm.DB) (time.Duration, string, error) {
	begin := time.Now()
	db = db.WithContext(ctx)
	switch srv.name {
	case "postgres":
		if err := db.Exec("CHECKPOINT").Error; err != nil {
			return 0, "", fmt.Errorf("settling (CHECKPOINT needs a superuser or pg_checkpoint): %w", err)
		}
		return time.Since(begin), "a checkpoint", nil
	case "sqlite":
		var busy, logged, moved int
		if err := db.Raw("PRAGMA wal_checkpoint(TRUNCATE)").Row().Scan(&busy, &logged, &moved); err != nil {
			return 0, "", fmt.Errorf("settling: %w", err)
		}
		if busy != 0 {
			return 0, "", fmt.Errorf("settling: the checkpoint was blocked (%d of %d pages copied)", moved, logged)
		}
		return time.Since(begin), "a checkpoint", nil
	case "mariadb":
		// Two counts to see fall: the buffer pool's dirty pages, and the
		// undo logs of deleted rows that InnoDB's purge threads have yet
		// to remove (after a cleanup's deletes, minutes of work).
		status := func(name string) (int64, error) {
			var n int64
			err := db.Raw("SHOW GLOBAL STATUS LIKE ?", name).Row().Scan(&name, &n)
			return n, err
		}
		least := [2]int64{-1, -1}
		var now [2]int64
		for flat := 0; flat < 3; {
			for i, name := range []string{"Innodb_buffer_pool_pages_dirty", "Innodb_history_list_length"} {
				n, err := status(name)
				if err != nil {
					return 0, "", fmt.Errorf("settling: %w", err)
				}
				now[i] = n
			}
			flat++
			for i, n := range now {
				if least[i] < 0 || n < least[i] {
					least[i], flat = n, 0
				}
			}
			if now == [2]int64{} {
				break
			}
			if time.Since(begin) > 3*time.Minute {
				return time.Since(begin), fmt.Sprintf("%d dirty pages and %d undo logs left after three minutes", now[0], now[1]), nil
			}
			select {
			case <-ctx.Done():
				return 0, "", ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
		return time.Since(begin), fmt.Sprintf("%d dirty pages and %d undo logs left", least[0], least[1]), nil
	}
	return 0, "nothing to wait for", nil
}

// sizedEngine serves /login?user=U (a new session, a value set, signed in
// as U), /read (the value) and /write (an increment).
func sizedEngine(st *ginsession.Store) *gin.Engine {
	r := gin.New()
	r.Use(st.Handler())
	r.GET("/login", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.Set("user", "alice")
		s.Login(c.Query("user"))
		c.String(http.StatusOK, "ok")
	})
	r.GET("/read", func(c *gin.Context) {
		user, _ := ginsession.Get[string](ginsession.Default(c), "user")
		c.String(http.StatusOK, user)
	})
	r.GET("/write", func(c *gin.Context) {
		s := ginsession.Default(c)
		n, _ := ginsession.Get[int](s, "n")
		s.Set("n", n+1)
		c.String(http.StatusOK, strconv.Itoa(n+1))
	})
	return r
}

// serve sends GET path with cookie (if any) and returns the response, or
// fails b.
func (s *sized) serve(b *testing.B, w *sink, path, cookie string) *sink {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	w.reset()
	s.r.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		b.Fatalf("GET %s: %s", path, statusError(w))
	}
	return w
}

// login makes a session signed in as user and returns its Cookie header.
func (s *sized) login(b *testing.B, w *sink, user string) string {
	set := s.serve(b, w, "/login?user="+user, "").h.Get("Set-Cookie")
	if set == "" {
		b.Fatalf("signing in %s: no Set-Cookie", user)
	}
	return strings.SplitN(set, ";", 2)[0]
}

// tidy deletes the rows the benchmark made, past mark in the primary key,
// so that the table stays at its size from one run to the next.
func (s *sized) tidy(b *testing.B) {
	var q strings.Builder
	q.WriteString("DELETE FROM ")
	s.t.db.Dialector.QuoteTo(&q, s.table)
	q.WriteString(" WHERE id > ?")
	if err := s.t.db.Exec(q.String(), s.mark).Error; err != nil {
		b.Fatalf("deleting the benchmark's rows: %v", err)
	}
}

// BenchmarkTableSize measures ginsession on a table of 10,000 generated
// rows and on a large one (sizeLarge), for benchstat to compare the two
// sizes op by op: read (a signed-in session's value), write (an
// increment), new (a request that creates a session), sign-in (one that
// creates a session signed in as a new user), users
// (Store.UserSessions of a user with three sessions) and destroy-user
// (Store.DestroyUser of such a user, whose sessions are made with the timer
// stopped). The rows look like a live site's (sessionfill: some expired,
// some signed in, some renewed, some header sessions); each table's bytes a
// row, in the table and its indexes, are logged when it is filled. Each
// table is filled once, -count repeating the operations on it, and dropped
// after them; the operations start once the server has written the fill
// out (settle).
func BenchmarkTableSize(b *testing.B) {
	// Not PgBouncer: its table is PostgreSQL's.
	sized := slices.DeleteFunc(slices.Clone(servers), func(s server) bool { return s.name == "pgbouncer" })
	eachOf(b, sized, func(b *testing.B, srv server, dsn string) {
		for _, rows := range []int{sizeSmall, sizeLarge(b, srv)} {
			b.Run("rows="+strconv.Itoa(rows), func(b *testing.B) {
				s := fill(b, srv, dsn, rows)
				for _, op := range sizeOps {
					b.Run("op="+op.name, func(b *testing.B) {
						defer s.tidy(b)
						b.ReportAllocs()
						op.run(b, s)
					})
				}
			})
		}
	})
}

var sizeOps = []struct {
	name string
	run  func(b *testing.B, s *sized)
}{
	{"read", func(b *testing.B, s *sized) {
		w := &sink{h: http.Header{}}
		cookie := s.login(b, w, "reader")
		for b.Loop() {
			if body := string(s.serve(b, w, "/read", cookie).body); body != "alice" {
				b.Fatalf("read %q, want alice: the session was not found", body)
			}
		}
	}},
	{"write", func(b *testing.B, s *sized) {
		w := &sink{h: http.Header{}}
		cookie := s.login(b, w, "writer")
		n := 0
		for b.Loop() {
			n++
			if body := string(s.serve(b, w, "/write", cookie).body); body != strconv.Itoa(n) {
				b.Fatalf("write %d gave %q: the session lost a write", n, body)
			}
		}
	}},
	{"new", func(b *testing.B, s *sized) {
		w := &sink{h: http.Header{}}
		for b.Loop() {
			if s.serve(b, w, "/write", "").h.Get("Set-Cookie") == "" {
				b.Fatal("a new session without Set-Cookie")
			}
		}
	}},
	{"sign-in", func(b *testing.B, s *sized) {
		w := &sink{h: http.Header{}}
		i := 0
		for b.Loop() {
			i++
			s.login(b, w, "joiner"+strconv.Itoa(i))
		}
	}},
	{"users", func(b *testing.B, s *sized) {
		w := &sink{h: http.Header{}}
		for range sizeUserSessions {
			s.login(b, w, "lister")
		}
		ctx := context.Background()
		for b.Loop() {
			infos, err := s.st.UserSessions(ctx, "lister")
			if err != nil {
				b.Fatal(err)
			}
			if len(infos) != sizeUserSessions {
				b.Fatalf("UserSessions: %d sessions, want %d", len(infos), sizeUserSessions)
			}
		}
	}},
	{"destroy-user", func(b *testing.B, s *sized) {
		w := &sink{h: http.Header{}}
		ctx := context.Background()
		// The users are signed in a batch at a time, with the timer
		// stopped, and on SQLite the write-ahead log is emptied after
		// each batch. SQLite checkpoints its log in the commit that
		// fills it, with an fsync of the database: signing each user in
		// just before their DestroyUser left it to chance whether a
		// sign-in or the DestroyUser paid that, 50 µs or 230 µs a call
		// from one run to the next at either size. After the batch's
		// checkpoint, the DestroyUser calls pay only for what they
		// wrote themselves.
		const batch = 100
		var users []string
		i := 0
		for b.Loop() {
			if len(users) == 0 {
				b.StopTimer()
				for range batch {
					i++
					user := "leaver" + strconv.Itoa(i)
					for range sizeUserSessions {
						s.login(b, w, user)
					}
					users = append(users, user)
				}
				if s.t.srv.name == "sqlite" {
					if _, _, err := settle(ctx, s.t.srv, s.t.db); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			user := users[0]
			users = users[1:]
			n, err := s.st.DestroyUser(ctx, user)
			if err != nil {
				b.Fatal(err)
			}
			if n != sizeUserSessions {
				b.Fatalf("DestroyUser: %d sessions, want %d", n, sizeUserSessions)
			}
		}
	}},
}
