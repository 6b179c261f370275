// Command report turns the raw output of bench/run into RESULTS.md: for each
// database server, the ratios against each peer and against the floor, the
// project's speed goals with whether this run met them and the parallel
// mixes; the table-size comparison and the cleanup under load, when the run
// has them; then benchstat's tables.
//
//	go run ./report -raw raw.txt -benchstat benchstat.txt -out RESULTS.md
//
// The benchstat file holds one block per server, each after a line
// "# server=NAME", and one per server for BenchmarkTableSize, after
// "# tablesize server=NAME".
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	raw := flag.String("raw", "raw.txt", "go test -bench -v output")
	stat := flag.String("benchstat", "benchstat.txt", "benchstat's tables of the same run, a block per server")
	out := flag.String("out", "RESULTS.md", "report to write")
	now := time.Now().UTC().Format("2006-01-02 15:04 MST")
	date := flag.String("date", now, "when the benchmarks other than BenchmarkTableSize ran")
	sizeDate := flag.String("sizedate", now, "when BenchmarkTableSize ran")
	cleanupDate := flag.String("cleanupdate", now, "when BenchmarkCleanupUnderLoad ran")
	flag.Parse()
	if err := run(*raw, *stat, *out, dates{*date, *sizeDate, *cleanupDate}); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// dates are when each part of the report ran: a run may carry a part over
// from an earlier one.
type dates struct{ main, size, cleanup string }

// key names one benchmark: the server, the group (scenario or mix) and the
// library.
type key struct{ server, group, lib string }

// results holds every sample of every metric, by benchmark, and the
// benchmarks that could not run.
type results struct {
	cpu     string
	samples map[key]map[string][]float64
	// fails holds why a library failed on a server, from the benchmark's
	// "NAME fails: reason" line.
	fails map[key]string
	// notRun are the servers skipped as a whole (no DSN).
	notRun map[string]bool
}

var (
	nameRE  = regexp.MustCompile(`^Benchmark\w+/server=([\w-]+)/(?:scenario|mix)=([\w-]+)/lib=([\w-]+?)(?:-\d+)?$`)
	failsRE = regexp.MustCompile(`(Benchmark\S+) fails: (.*)$`)
	failRE  = regexp.MustCompile(`^\s*--- FAIL: (Benchmark\S+)`)
	skipRE  = regexp.MustCompile(`^\s*--- SKIP: Benchmark\w+/server=([\w-]+)$`)
)

// keyOf gives the key of a benchmark name, with or without the -N suffix.
func keyOf(name string) (key, bool) {
	if m := nameRE.FindStringSubmatch(name); m != nil {
		return key{m[1], m[2], m[3]}, true
	}
	return key{}, false
}

func parse(r io.Reader) (*results, error) {
	res := &results{samples: map[key]map[string][]float64{}, fails: map[key]string{}, notRun: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// The first: lines carried over from an earlier run for
		// BenchmarkTableSize come after this run's.
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok && res.cpu == "" {
			res.cpu = strings.TrimSpace(cpu)
		}
		if m := failsRE.FindStringSubmatch(line); m != nil {
			if k, ok := keyOf(m[1]); ok {
				if _, seen := res.fails[k]; !seen {
					res.fails[k] = m[2]
				}
			}
			continue
		}
		if m := failRE.FindStringSubmatch(line); m != nil {
			if k, ok := keyOf(m[1]); ok {
				if _, seen := res.fails[k]; !seen {
					res.fails[k] = "the benchmark failed; see raw.txt"
				}
			}
			continue
		}
		if m := skipRE.FindStringSubmatch(line); m != nil {
			res.notRun[m[1]] = true
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		k, ok := keyOf(f[0])
		if !ok || f[1] == "0" { // a benchmark skipped after its first run
			continue
		}
		if res.samples[k] == nil {
			res.samples[k] = map[string][]float64{}
		}
		if err := eachMetric(line, f, func(unit string, v float64) { res.samples[k][unit] = append(res.samples[k][unit], v) }); err != nil {
			return nil, err
		}
	}
	return res, sc.Err()
}

// parseParts reads the table-size and cleanup results from f, from its
// start, and leaves f at its start.
func parseParts(f io.ReadSeeker) (*sizeResults, *cleanupResults, error) {
	rewind := func() error { _, err := f.Seek(0, io.SeekStart); return err }
	if err := rewind(); err != nil {
		return nil, nil, err
	}
	sizes, err := parseSizes(f)
	if err != nil {
		return nil, nil, err
	}
	if err := rewind(); err != nil {
		return nil, nil, err
	}
	cleanups, err := parseCleanup(f)
	if err != nil {
		return nil, nil, err
	}
	return sizes, cleanups, rewind()
}

// A family is one benchmark's part of go test's output, which scanFamily
// reads.
type family struct {
	// prefix starts the names of the benchmark and its sub-benchmarks.
	prefix string
	// name matches the benchmark's result names, its groups the sub-benchmarks.
	name *regexp.Regexp
	// log takes a log line of the benchmark's own, returning whether it was one.
	log func(line string) bool
	// result takes a result line: name's groups and every value by unit.
	result func(m []string, line string, f []string) error
}

// scanFamily reads r for fam and returns the machine (the last "cpu:" line
// before the first result) and the names of its benchmarks that failed.
func scanFamily(r io.Reader, fam family) (cpu string, failed []string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	last := ""
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, "cpu: "); ok {
			last = strings.TrimSpace(c)
			continue
		}
		if fam.log(line) {
			continue
		}
		if m := failRE.FindStringSubmatch(line); m != nil {
			if strings.HasPrefix(m[1], fam.prefix) {
				failed = append(failed, m[1])
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		m := fam.name.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		if cpu == "" {
			cpu = last
		}
		if err := fam.result(m, line, f); err != nil {
			return "", nil, err
		}
	}
	return cpu, failed, sc.Err()
}

// eachMetric calls add with each value and unit of a result line, whose
// fields are f: name, iterations, then value and unit pairs.
func eachMetric(line string, f []string, add func(unit string, v float64)) error {
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return fmt.Errorf("%q: %w", line, err)
		}
		add(f[i+1], v)
	}
	return nil
}

// median of one metric of one benchmark; ok is false when it did not run.
func (r *results) median(server, group, lib, unit string) (float64, bool) {
	return medianOf(r.samples[key{server, group, lib}][unit])
}

// measured is median for a library that did not fail: samples taken
// before a failure do not count.
func (r *results) measured(server, group, lib, unit string) (float64, bool) {
	if _, failed := r.fails[key{server, group, lib}]; failed {
		return 0, false
	}
	return r.median(server, group, lib, unit)
}

// ran reports whether anything ran on server.
func (r *results) ran(server string) bool {
	for k := range r.samples {
		if k.server == server {
			return true
		}
	}
	for k := range r.fails {
		if k.server == server {
			return true
		}
	}
	return false
}

// runs is how many samples the server's benchmarks took (the -count).
func (r *results) runs(server string) int {
	n := 0
	for k, m := range r.samples {
		if k.server == server {
			n = max(n, len(m["ns/op"]))
		}
	}
	return n
}

var (
	peers     = []string{"gin-contrib", "scs", "scs-idle"}
	scenarios = []string{"untouched", "read", "write", "new"}
	mixes     = []string{"read-heavy", "write-heavy"}
)

// A srv is one server of the report.
type srv struct {
	name, title, setup string
}

var servers = []srv{
	{"sqlite", "SQLite", "each library on its own SQLite file in WAL mode (`synchronous=NORMAL`, `busy_timeout=5000`), through mattn/go-sqlite3"},
	{"postgres", "PostgreSQL", "PostgreSQL on loopback through pgx's database/sql driver in its default mode, which prepares and caches every statement itself"},
	{"mariadb", "MariaDB", "MariaDB on loopback through go-sql-driver/mysql with `interpolateParams=true`"},
	{"pgbouncer", "PgBouncer", "the same PostgreSQL through PgBouncer in transaction pooling mode, with pgx in its `exec` query mode (`default_query_exec_mode=exec`: unnamed statements, one round trip each; named prepared statements do not survive transaction pooling)"},
}

// floorHow says how the floor runs its statements on each server.
var floorHow = map[string]string{
	"sqlite":    "prepared statements",
	"postgres":  "plain queries, which pgx prepares and caches on each connection",
	"mariadb":   "prepared statements (server-side)",
	"pgbouncer": "plain queries in pgx's exec mode",
}

func run(rawPath, statPath, outPath string, when dates) error {
	f, err := os.Open(rawPath)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		return err
	}
	sizes, cleanups, err := parseParts(f)
	if err != nil {
		return err
	}
	statText, err := os.ReadFile(statPath)
	if err != nil {
		return err
	}
	stats := splitStats(string(statText))

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# Benchmark results\n\n")
	w("Written by `bench/run` on %s. Machine: %s, %d logical CPUs, %s, %s/%s.\n\n", when.main, res.cpu, runtime.NumCPU(), goVersion(), runtime.GOOS, runtime.GOARCH)
	w("Each library runs full requests through a Gin engine in process, on each database server: ")
	var ran []srv
	for _, s := range servers {
		if res.ran(s.name) {
			ran = append(ran, s)
		}
	}
	for i, s := range ran {
		sep := "; "
		if i == len(ran)-1 {
			sep = ".\n"
		}
		w("**%s**, %s, %d runs%s", s.title, s.setup, res.runs(s.name), sep)
	}
	w("\nThe network servers get fewer runs than SQLite when `bench/run` keeps its defaults (`NET_COUNT`=6, the fewest for which benchstat gives confidence intervals, against `COUNT`=8): each of their samples also creates the library's tables and, for the parallel mixes, 256 sessions over the network, and the whole run is meant to stay near 20 minutes on two cores. ")
	w("The network servers are the throw-away ones `.ci/databases` starts on this machine (see that script for their settings: PostgreSQL runs with `fsync=off`, MariaDB with `innodb_flush_log_at_trx_commit=2`), so a round trip is a loopback one and the servers share the two cores with the benchmark. ")
	w("Every library gets the same `*gorm.DB` settings (GORM's defaults, logger discarded) on a pool of 16 connections, open and idle alike, so that no library pays for reconnecting; on a server, each starts from its own freshly created tables. ")
	w("Figures are medians of the run's samples, taken in rounds that each run every library once (a round is a `go test` of its own), so that a slow moment of the shared machine falls on every library alike; statements are counted at the database driver. ")
	w("`floor` is a hand-written database/sql store doing the fewest statements the job needs, with prepared statements where they pay (each server's section says how); `bare` is Gin with no session middleware. ")
	w("gin-contrib/sessions calls `Save()` as its README says; scs runs once without and once with an idle timeout (`scs-idle`). ")
	w("A library that cannot work on a server is shown as failing there, with the error, and its goals as not applicable.\n\n")
	for _, s := range servers {
		if res.notRun[s.name] && !res.ran(s.name) {
			w("%s did not run: its DSN was not set.\n\n", s.title)
		}
	}

	w("## Summary\n\n| server | goals met | not met |\n|---|---|---|\n")
	for _, s := range ran {
		gs := goals(res, s.name)
		met, applicable, failed := 0, 0, 0
		var missed []string
		for _, g := range gs {
			switch {
			case g.met == metYes:
				met++
				applicable++
			case g.met == metNo && g.failed:
				applicable++
				failed++
			case g.met == metNo:
				applicable++
				measured := g.measured
				if d := g.delta(stats[s.name]); strings.HasPrefix(d, "~") {
					measured += ", a difference benchstat does not show: " + strings.Trim(strings.TrimPrefix(d, "~ "), "()")
				}
				missed = append(missed, g.name+" ("+measured+")")
			}
		}
		if failed > 0 {
			missed = append([]string{fmt.Sprintf("%d where ginsession fails or was not measured", failed)}, missed...)
		}
		notMet := strings.Join(missed, "; ")
		if notMet == "" {
			notMet = "–"
		}
		w("| %s | %d of %d | %s |\n", s.title, met, applicable, notMet)
	}

	for _, line := range []string{sizeSummary(sizes), cleanupSummary(cleanups)} {
		if line != "" {
			w("\n%s\n", line)
		}
	}

	for _, s := range ran {
		writeServer(w, res, s, stats[s.name])
	}

	writeSizes(w, sizes, stats, when.size)
	writeCleanup(w, cleanups, when.cleanup)

	// Measurements this report does not make, each in a file of its own
	// that a run keeps: they restart servers or run many clients at once.
	w("\n## More measurements\n\n")
	for _, m := range []struct{ file, what string }{
		{"restarts.md", "Restarts: what clients see when PostgreSQL, PgBouncer or MariaDB restarts during traffic"},
		{"throughput.md", "Throughput: requests per second and CPU per request of two instances under 64 clients on PostgreSQL and MariaDB"},
	} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(outPath), m.file)); err == nil {
			w("- [%s](%s)\n", m.what, m.file)
		}
	}

	w("\n## benchstat\n")
	for _, s := range ran {
		if text, ok := stats[s.name]; ok {
			w("\n### %s\n\n```\n%s```\n", s.title, text)
		}
	}
	return os.WriteFile(outPath, []byte(b.String()), 0o644)
}

func writeServer(w func(string, ...any), res *results, s srv, stats string) {
	name := s.name
	w("\n## %s\n\nThe floor uses %s.\n\n", s.title, floorHow[name])

	w("### Ratios\n\nHow many times longer each peer takes than ginsession (higher is better for ginsession), and ginsession against the floor (lower is better).\n\n")
	w("| scenario | ginsession | floor | ginsession / floor |")
	for _, p := range peers {
		w(" %s / ginsession |", p)
	}
	w("\n|---|---|---|---|%s\n", strings.Repeat("---|", len(peers)))
	for _, sc := range scenarios {
		ours, okOurs := res.measured(name, sc, "ginsession", "ns/op")
		floor, okFloor := res.measured(name, sc, "floor", "ns/op")
		w("| %s | %s | %s | %s |", sc, durOf(res, name, sc, "ginsession"), durOf(res, name, sc, "floor"), ratio(ours, floor, okOurs && okFloor))
		for _, p := range peers {
			if _, failed := res.fails[key{name, sc, p}]; failed {
				w(" fails |")
				continue
			}
			v, ok := res.measured(name, sc, p, "ns/op")
			w(" %s |", ratio(v, ours, ok && okOurs))
		}
		w("\n")
	}
	w("\n| scenario | statements: ginsession | floor |")
	for _, p := range peers {
		w(" %s |", p)
	}
	w("\n|---|---|---|%s\n", strings.Repeat("---|", len(peers)))
	for _, sc := range scenarios {
		w("| %s | %s | %s |", sc, num(res, name, sc, "ginsession", "stmts/op"), num(res, name, sc, "floor", "stmts/op"))
		for _, p := range peers {
			w(" %s |", num(res, name, sc, p, "stmts/op"))
		}
		w("\n")
	}
	w("\n| scenario | allocs/op: ginsession | floor | bare |")
	for _, p := range peers {
		w(" %s |", p)
	}
	w("\n|---|---|---|---|%s\n", strings.Repeat("---|", len(peers)))
	for _, sc := range scenarios {
		w("| %s | %s | %s | %s |", sc, num(res, name, sc, "ginsession", "allocs/op"), num(res, name, sc, "floor", "allocs/op"), num(res, name, sc, "bare", "allocs/op"))
		for _, p := range peers {
			w(" %s |", num(res, name, sc, p, "allocs/op"))
		}
		w("\n")
	}

	gs := goals(res, name)
	w("\n### Goals\n\nA verdict compares two medians; for a time, the benchstat column is its test of the two libraries' samples, where `~` marks a difference the samples do not show to be real.\n\n| goal | measured | met | benchstat |\n|---|---|---|---|\n")
	for _, g := range gs {
		w("| %s | %s | %s | %s |\n", g.name, g.measured, g.met, g.delta(stats))
	}
	told := map[string]bool{}
	for _, g := range gs {
		if note, ok := noteFor(g.name); ok && g.met == metNo && !g.failed {
			if told[note] {
				note = "The same reason as above."
			}
			told[note] = true
			w("\n**%s: not met.** %s\n", g.name, note)
		}
	}

	writeFailures(w, res, name)

	w("\n### Parallel load\n\n`b.RunParallel` (one client per CPU) over 256 sessions, reads and writes mixed (10%% and 50%% writes); time per request of the whole engine.\n\n| mix | ginsession | floor |")
	for _, p := range peers {
		w(" %s |", p)
	}
	w("\n|---|---|---|%s\n", strings.Repeat("---|", len(peers)))
	for _, m := range mixes {
		w("| %s | %s | %s |", m, durOf(res, name, m, "ginsession"), durOf(res, name, m, "floor"))
		for _, p := range peers {
			w(" %s |", durOf(res, name, m, p))
		}
		w("\n")
	}
	w("\n| mix | errors/op: ginsession | floor |")
	for _, p := range peers {
		w(" %s |", p)
	}
	w("\n|---|---|---|%s\n", strings.Repeat("---|", len(peers)))
	for _, m := range mixes {
		w("| %s | %s | %s |", m, num(res, name, m, "ginsession", "errors/op"), num(res, name, m, "floor", "errors/op"))
		for _, p := range peers {
			w(" %s |", num(res, name, m, p, "errors/op"))
		}
		w("\n")
	}
}

// writeFailures lists the libraries that failed on the server: each with
// the benchmarks it failed and each distinct reason.
func writeFailures(w func(string, ...any), res *results, server string) {
	groups := append(slices.Clone(scenarios), mixes...)
	var lines []string
	for _, lib := range append([]string{"ginsession", "floor"}, peers...) {
		var where, why []string
		for _, g := range groups {
			if reason, failed := res.fails[key{server, g, lib}]; failed {
				where = append(where, g)
				reason = strings.TrimPrefix(reason, "creating a session: ")
				if !slices.Contains(why, reason) {
					why = append(why, reason)
				}
			}
		}
		if len(where) > 0 {
			lines = append(lines, fmt.Sprintf("- %s (%s) fails: %s", lib, strings.Join(where, ", "), strings.Join(why, "; ")))
		}
	}
	if len(lines) > 0 {
		w("\n### Failures\n\n%s\n", strings.Join(lines, "\n"))
	}
}

// splitStats cuts benchstat's output into the blocks of each server.
func splitStats(text string) map[string]string {
	out := map[string]string{}
	server := ""
	for _, line := range strings.SplitAfter(text, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "# server="); ok {
			server = s
			continue
		}
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "# tablesize server="); ok {
			server = "tablesize/" + s
			continue
		}
		if server != "" {
			out[server] += line
		}
	}
	return out
}

// notes explain, for a goal this run missed, why; they are written only when
// the goal was missed.
var notes = map[string]string{
	"untouched within 1.3x of the floor": "The floor is not a middleware: on a route that never touches the " +
		"session it is bare Gin, a few hundred nanoseconds. ginsession must still, on every request, wrap the " +
		"response writer and put the session into the request's context (`c.Request.WithContext` copies the " +
		"request), so that a handler can reach it through `FromContext(c.Request.Context())`; that is one " +
		"allocation, the session, which holds the writer wrap, the context and the request's copy (the goal " +
		"below allows two), and no SQL. The gap is fixed in nanoseconds, not a ratio of work: it is a few per " +
		"cent of any request that does reach the database.",
	"read within 1.3x of the floor": "The floor reads one column and decodes it into a map; ginsession also " +
		"reads the user, expiry, version and expiry policy columns it needs to stay correct under concurrent " +
		"writers and sliding expiry, hashes the token, and runs behind a middleware. The six more columns cost " +
		"most at the driver, which on SQLite makes each column's name and declared type a Go string on every " +
		"query and boxes each value: `BenchmarkLoadColumns` measures them alone, 18 allocations and 2.5 µs on SQLite " +
		"(10.4 µs against 7.8 µs for the one column, six samples on 2026-12-06), of a gap of some 5 to 6 µs; the rest is the " +
		"middleware's own work (the token's hash, the writer wrap and the request's context), a few per cent of a request on a server.",
}

// noteFor finds the note for a goal: its own, or the one for goals whose
// names start alike ("read at least", whatever the peer).
func noteFor(goal string) (string, bool) {
	if note, ok := notes[goal]; ok {
		return note, true
	}
	for prefix, note := range prefixNotes {
		if strings.HasPrefix(goal, prefix) {
			return note, true
		}
	}
	return "", false
}

// prefixNotes explain, for the goals against each peer or each floor
// scenario that share a reason, why a run missed one.
var prefixNotes = map[string]string{
	"read at least": "ginsession and the peers each read a session with one `SELECT` by key. On a database server that " +
		"statement's round trip and execution are most of a read (the floor, which does nothing else, shows its " +
		"cost in the table above), and no design reads a server-side session with less than one statement, so the " +
		"ratio is bounded by how much the peers spend around that statement. On SQLite, where the statement is cheap, the goal " +
		"holds by 3x and more.",
	"write at least": "ginsession writes with 2 statements (the read the handler's values come from, and one " +
		"`UPDATE` guarded by the row's version), the peers with 5 (the statements table above). Where each statement costs a round trip of about the same length, " +
		"through PgBouncer most of all, the ratio tends to 5 / 2 = 2.5x, the goal itself, and a run lands either side " +
		"of it. Beating it by a margin needs a write in one statement: an `UPDATE` that merges the changed keys into " +
		"the stored data in SQL, which an encrypted or custom-codec data column cannot do, and which would lose the " +
		"read that tells a handler what is in the session.",
	"write within": "The floor's `UPDATE` sets the data column by ID. ginsession's also moves the sliding expiry and " +
		"the last-seen time and checks the row's version, without which two concurrent writers lose one another's " +
		"changes (the floor does); it binds three times to the floor's one, each formatted by the driver, and the " +
		"request first reads the seven columns a read does (see above).",
	"new within": "Both create a session with one `INSERT`. ginsession's, for an anonymous session, sends seven values where " +
		"the floor's sends three (the times a session needs later, its data and its version; since 2026-12-06 its client, policy " +
		"and sign-in columns are left to the table's defaults, where it sent all fourteen before), draws the token and hashes it " +
		"into the row's ID, and sends a cookie with every attribute set. `BenchmarkInsertColumns` times the INSERTs alone through " +
		"the same driver (six samples, 2026-12-06): the seven-value one took 1.15x the floor's on MariaDB and through PgBouncer, " +
		"and no difference the samples show on SQLite and PostgreSQL; the fourteen-value one 1.28x on MariaDB and 1.13x through " +
		"PgBouncer. The four values and the wider row a session needs are therefore worth some 15% at the server, and the rest " +
		"of a miss is the spread of the samples: this goal has come out at 0.9x to 1.4x on PostgreSQL and 1.2x to 1.4x through " +
		"PgBouncer over the runs of 2026-12-05 and 2026-12-06, with each library's samples spread by ±30% to ±50% there " +
		"(the benchstat column).",
}

// met is a goal's verdict: yes, no, or not applicable when what ginsession
// is measured against could not run.
type met string

const (
	metYes met = "yes"
	metNo  met = "**no**"
	metNA  met = "n/a"
)

type goal struct {
	name, measured string
	met            met
	// failed is whether ginsession failed, rather than missed the goal.
	failed bool
	// group, other and unit say what was compared: ginsession's group
	// against other's, in unit.
	group, other, unit string
}

// floorFactor is how close to the floor every scenario must be, on every
// server.
const floorFactor = 1.3

func goals(r *results, server string) []goal {
	var gs []goal
	// compare judges ours against theirs with pass: ginsession missing or
	// failing is a miss; the other side missing or failing is n/a.
	compare := func(name, group, other, unit string, show func(ours, theirs float64) string, pass func(ours, theirs float64) bool) goal {
		g := goal{name: name, group: group, other: other, unit: unit}
		verdict := func(measured string, m met, failed bool) goal {
			g.measured, g.met, g.failed = measured, m, failed
			return g
		}
		if why, failed := r.fails[key{server, group, "ginsession"}]; failed {
			return verdict("ginsession fails: "+why, metNo, true)
		}
		ours, ok := r.median(server, group, "ginsession", unit)
		if !ok {
			return verdict("not measured", metNo, true)
		}
		if why, failed := r.fails[key{server, group, other}]; failed {
			return verdict(other+" fails: "+why, metNA, false)
		}
		theirs, ok := r.median(server, group, other, unit)
		if !ok {
			return verdict(other+" not measured", metNA, false)
		}
		if pass(ours, theirs) {
			return verdict(show(ours, theirs), metYes, false)
		}
		return verdict(show(ours, theirs), metNo, false)
	}
	for _, g := range []struct {
		sc     string
		factor float64
	}{{"read", 2}, {"write", 2.5}} {
		for _, p := range peers {
			gs = append(gs, compare(fmt.Sprintf("%s at least %.1fx faster than %s", g.sc, g.factor, p), g.sc, p, "ns/op",
				func(ours, theirs float64) string { return fmt.Sprintf("%.2fx", theirs/ours) },
				func(ours, theirs float64) bool { return theirs/ours >= g.factor }))
		}
	}
	for _, sc := range scenarios {
		gs = append(gs, compare(fmt.Sprintf("%s within %.1fx of the floor", sc, floorFactor), sc, "floor", "ns/op",
			func(ours, theirs float64) string { return fmt.Sprintf("%.2fx", ours/theirs) },
			func(ours, theirs float64) bool { return ours/theirs <= floorFactor }))
	}
	gs = append(gs, compare("untouched route adds at most 2 allocations to bare Gin", "untouched", "bare", "allocs/op",
		func(ours, theirs float64) string { return fmt.Sprintf("%+.0f", ours-theirs) },
		func(ours, theirs float64) bool { return ours-theirs <= 2 }))
	for _, p := range peers {
		gs = append(gs, compare(fmt.Sprintf("read allocations at most a third of %s's", p), "read", p, "allocs/op",
			func(ours, theirs float64) string {
				return fmt.Sprintf("%.0f vs %.0f (%.2f)", ours, theirs, ours/theirs)
			},
			func(ours, theirs float64) bool { return ours/theirs <= 1.0/3 }))
	}
	return gs
}

// delta is benchstat's verdict on the goal's time comparison in text, the
// server's benchstat of the request benchmarks ("~ (p=0.093)"), or "–"
// for a goal on another unit or a comparison benchstat did not make.
// benchstat aligns each library's cells under its name in the header, and
// leaves a library without results blank, so a cell is found by position.
func (g goal) delta(text string) string {
	if g.unit != "ns/op" || g.met == metNA || g.failed {
		return "–"
	}
	var bars []int // where the header's column rules are, in runes
	col := -1      // which column is g.other's
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "geomean") {
			break
		}
		if bars == nil && strings.Contains(line, "│") {
			for i, r := range []rune(line) {
				if r == '│' {
					bars = append(bars, i)
				}
			}
			names := strings.Split(line, "│")
			for i, name := range names[1:] {
				if strings.TrimSpace(name) == g.other {
					col = i
				}
			}
			continue
		}
		if f := strings.Fields(line); len(f) == 0 || f[0] != g.group || col < 1 {
			continue
		}
		row := []rune(line)
		start, end := bars[col], len(row)
		if col+1 < len(bars) {
			end = min(end, bars[col+1])
		}
		if start >= end {
			return "–"
		}
		if m := deltaRE.FindStringSubmatch(string(row[start:end])); m != nil {
			return m[1] + " (p=" + m[2] + ")"
		}
		return "–"
	}
	return "–"
}

func ratio(a, b float64, ok bool) string {
	if !ok || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func dur(ns float64) string {
	if ns >= 1e6 {
		return fmt.Sprintf("%.1f ms", ns/1e6)
	}
	if ns >= 1000 {
		return fmt.Sprintf("%.1f µs", ns/1000)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func durOf(r *results, server, group, lib string) string {
	if _, failed := r.fails[key{server, group, lib}]; failed {
		return "fails"
	}
	v, ok := r.median(server, group, lib, "ns/op")
	if !ok {
		return "–"
	}
	return dur(v)
}

func num(r *results, server, group, lib, unit string) string {
	if _, failed := r.fails[key{server, group, lib}]; failed {
		return "fails"
	}
	v, ok := r.median(server, group, lib, unit)
	if !ok {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}
