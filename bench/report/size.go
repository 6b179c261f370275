package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The table-size goals: every operation on the large table within
// sizeFactor of its time on the small one, at sizeGoalRows rows (a
// million on SQLite); MariaDB's bytes a row within bytesFactor of
// PostgreSQL's.
const (
	sizeFactor   = 1.2
	bytesFactor  = 1.3
	sizeGoalRows = 10_000_000
	sizeGoalLite = 1_000_000
)

// sizeOps are BenchmarkTableSize's operations, in its order, with what
// each measures.
var sizeOps = []struct{ name, what string }{
	{"read", "a request reading a value of a signed-in session"},
	{"write", "a request incrementing a value"},
	{"new", "a request that creates a session"},
	{"sign-in", "a request that creates a session signed in as a new user"},
	{"users", "`Store.UserSessions` of a user with three sessions"},
	{"destroy-user", "`Store.DestroyUser` of a user with three sessions (the users signed in a hundred at a time with the timer stopped, and on SQLite the write-ahead log emptied after each hundred, so that the calls pay for what they write and not for the sign-ins' checkpoint)"},
}

var (
	sizeRE  = regexp.MustCompile(`^BenchmarkTableSize/server=([\w-]+)/rows=(\d+)/op=([\w-]+?)(?:-\d+)?$`)
	bytesRE = regexp.MustCompile(`table size: server=([\w-]+) rows=(\d+) .*?bytes a row: (\d+) in all(?:; (.*))?$`)
	// tableRE is the benchmark's table name in an index's name.
	tableRE = regexp.MustCompile(`bench_size_\d+_\d+_`)
)

// bytesNote explains MariaDB's bytes a row, written when it misses the goal.
const bytesNote = "InnoDB's secondary indexes hold the primary key in every entry, and the key is `id`, 64 ASCII characters: " +
	"64 bytes in each entry of the three secondary indexes, where PostgreSQL's point at the row in 6. " +
	"MariaDB has no partial indexes, so its `user_id` and `renewed_from` indexes hold every row, where PostgreSQL's leave out " +
	"the anonymous and not-renewed ones (about 90% and 99.5% of the rows here: their indexes are a byte a row or less). " +
	"A table created before `renewed_from` became a `VARCHAR(64)` keeps its `CHAR(64)`, 64 bytes more in the row and in its index " +
	"(docs/table.md gives the ALTER). `id` as 32 raw bytes would save another 32 in the row and in each index entry."

// sizeKey names one table: a server and its row count.
type sizeKey struct {
	server string
	rows   int
}

// sizeResults are BenchmarkTableSize's samples (ns/op by table and
// operation) and each table's bytes a row.
type sizeResults struct {
	// cpu is the machine's, from the last "cpu:" line before the first
	// result of BenchmarkTableSize.
	cpu    string
	ns     map[sizeKey]map[string][]float64
	bytes  map[sizeKey]float64
	parts  map[sizeKey]string
	failed []string
}

func parseSizes(r io.Reader) (*sizeResults, error) {
	res := &sizeResults{ns: map[sizeKey]map[string][]float64{}, bytes: map[sizeKey]float64{}, parts: map[sizeKey]string{}}
	var err error
	res.cpu, res.failed, err = scanFamily(r, family{
		prefix: "BenchmarkTableSize",
		name:   sizeRE,
		log: func(line string) bool {
			m := bytesRE.FindStringSubmatch(line)
			if m != nil {
				rows, _ := strconv.Atoi(m[2])
				total, _ := strconv.ParseFloat(m[3], 64)
				k := sizeKey{m[1], rows}
				res.bytes[k], res.parts[k] = total, m[4]
			}
			return m != nil
		},
		result: func(m []string, line string, f []string) error {
			rows, _ := strconv.Atoi(m[2])
			k := sizeKey{m[1], rows}
			return eachMetric(line, f, func(unit string, v float64) {
				if unit != "ns/op" {
					return
				}
				if res.ns[k] == nil {
					res.ns[k] = map[string][]float64{}
				}
				res.ns[k][m[3]] = append(res.ns[k][m[3]], v)
			})
		},
	})
	return res, err
}

// tables returns the row counts measured on server, smallest first.
func (r *sizeResults) tables(server string) []int {
	var rows []int
	for k := range r.ns {
		if k.server == server {
			rows = append(rows, k.rows)
		}
	}
	slices.Sort(rows)
	return rows
}

// medianOf is the median of v, which it leaves as it is; ok is false when
// v is empty.
func medianOf(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	v = slices.Sorted(slices.Values(v))
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// writeSizes writes the "Table size" section, or nothing when the raw
// output has no BenchmarkTableSize.
func writeSizes(w func(string, ...any), r *sizeResults, stats map[string]string, date string) {
	ran := serversWhere(func(s string) bool { return len(r.tables(s)) > 0 })
	if len(ran) == 0 && len(r.failed) == 0 {
		return
	}
	w("\n## Table size\n\nMeasured on %s.%s `BenchmarkTableSize` (`SIZE=1 bench/run`): ginsession through a Gin engine on a session table of 10,000 generated rows and on a large one, ", date, machine(r.cpu))
	w("the rows as a live site's look (`integration/sessionfill`: 5%% expired, 10%% signed in, some renewed, 5%% header sessions). ")
	w("The goal: every operation on %s rows (%s on SQLite) within %.1fx of its time on 10,000; MariaDB's bytes a row within %.1fx of PostgreSQL's. ",
		thousands(sizeGoalRows), thousands(sizeGoalLite), sizeFactor, bytesFactor)
	rounds := 0
	for _, ops := range r.ns {
		for _, v := range ops {
			rounds = max(rounds, len(v))
		}
	}
	w("Figures are medians of %d rounds, each a process of its own that fills the tables again; each operation's own rows are deleted after it, so that the tables keep their size. ", rounds)
	w("Each table is measured once the server has written its fill out (a CHECKPOINT on PostgreSQL, InnoDB's dirty pages and its purge backlog no longer falling on MariaDB, the write-ahead log emptied on SQLite): a live table grows over months, not in a minute whose writes then compete with the requests. ")
	w("A verdict compares two medians: on a busy machine read it with benchstat's column, its test of the rounds' samples (full tables below), where `~` marks a difference the samples do not show to be real. ")
	w("A large table faster than the small one is such noise, not a gain: on each server the small table is measured first, just after the previous server's large table was filled and dropped.\n\n")
	var short []string
	for _, s := range ran {
		rows := r.tables(s.name)
		goal := sizeGoalRows
		if s.name == "sqlite" {
			goal = sizeGoalLite
		}
		if large := rows[len(rows)-1]; large < goal {
			short = append(short, fmt.Sprintf("%s %s rows, not %s", s.title, thousands(large), thousands(goal)))
		}
	}
	if len(short) > 0 {
		w("**This run's large tables are smaller than the goal's:** %s. The verdicts below are for the sizes run. ", strings.Join(short, "; "))
		w("`GINSESSION_BENCH_ROWS_LARGE` set the size; unset, `SIZE=1 bench/run` fills the goal's sizes (ten million rows take minutes to fill and a few GB on each server).\n\n")
	}
	for _, s := range ran {
		rows := r.tables(s.name)
		small, large := rows[0], rows[len(rows)-1]
		if small == large {
			w("### %s\n\nOnly one size measured (%s rows): nothing to compare.\n\n", s.title, thousands(small))
			continue
		}
		w("### %s\n\n| op | %s rows | %s rows | large / small | within %.1fx | benchstat |\n|---|---|---|---|---|---|\n", s.title, thousands(small), thousands(large), sizeFactor)
		for _, op := range sizeOps {
			v, ok := r.ratio(s.name, op.name)
			if !ok {
				w("| %s | – | – | – | not measured | – |\n", op.name)
				continue
			}
			a, _ := medianOf(r.ns[sizeKey{s.name, small}][op.name])
			b, _ := medianOf(r.ns[sizeKey{s.name, large}][op.name])
			verdict := metYes
			if v > sizeFactor {
				verdict = metNo
			}
			w("| %s | %s | %s | %.2fx | %s | %s |\n", op.name, dur(a), dur(b), v, verdict, timeDelta(stats["tablesize/"+s.name], op.name))
		}
		w("\n")
	}
	w("Operations: ")
	for i, op := range sizeOps {
		sep := "; "
		if i == len(sizeOps)-1 {
			sep = ".\n\n"
		}
		w("`%s`, %s%s", op.name, op.what, sep)
	}

	w("### Bytes a row\n\nThe table's size with its indexes, divided by its rows, after the fill, the indexes' build and ANALYZE (VACUUM ANALYZE on PostgreSQL). ")
	w("PostgreSQL gives each index; MariaDB the table (its clustered primary key) and the secondary indexes together; SQLite the whole file. ")
	w("At 10,000 rows a part's figure carries the fixed cost of its first pages (InnoDB gives an index whole extents), so the large table's figures are the ones to compare.\n\n| server | rows | in all | parts |\n|---|---|---|---|\n")
	for _, s := range ran {
		for _, rows := range r.tables(s.name) {
			k := sizeKey{s.name, rows}
			if _, ok := r.bytes[k]; !ok {
				continue
			}
			parts := tableRE.ReplaceAllString(r.parts[k], "")
			if parts == "" {
				parts = "–"
			}
			w("| %s | %s | %.0f | %s |\n", s.title, thousands(rows), r.bytes[k], parts)
		}
	}
	if v, ok := r.bytesRatio(); ok {
		pg, my := r.tables("postgres"), r.tables("mariadb")
		pk, mk := sizeKey{"postgres", pg[len(pg)-1]}, sizeKey{"mariadb", my[len(my)-1]}
		verdict := metYes
		if v > bytesFactor {
			verdict = metNo
		}
		w("\nMariaDB's bytes a row against PostgreSQL's, on the large tables (%s and %s rows): %.0f / %.0f = **%.2fx**; the goal, within %.1fx: %s.\n",
			thousands(mk.rows), thousands(pk.rows), r.bytes[mk], r.bytes[pk], v, bytesFactor, verdict)
		if verdict == metNo {
			w("\n**Bytes a row: not met.** %s\n", bytesNote)
		}
	}
	if len(r.failed) > 0 {
		w("\nFailed: %s (see raw.txt).\n", strings.Join(r.failed, ", "))
	}
	for _, s := range ran {
		if text, ok := stats["tablesize/"+s.name]; ok {
			w("\n#### benchstat, %s\n\n```\n%s```\n", s.title, text)
		}
	}
}

// deltaRE matches a row of benchstat's comparison: the change, or ~, and
// its p-value.
var deltaRE = regexp.MustCompile(`\s(~|[+-][\d.]+%)\s+\(p=([\d.]+) n=\d+\)`)

// timeDelta is benchstat's verdict on op's time in text, a table-size
// benchstat ("~ (p=0.151)", "+34.10% (p=0.008)"), or "–" when it has none.
// Only the first table, sec/op, is read.
func timeDelta(text, op string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "geomean") {
			break
		}
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != op {
			continue
		}
		if m := deltaRE.FindStringSubmatch(line); m != nil {
			return m[1] + " (p=" + m[2] + ")"
		}
	}
	return "–"
}

// ratio is op's time on server's large table over its time on the small
// one; ok is false when either was not measured or only one size was.
func (r *sizeResults) ratio(server, op string) (large float64, ok bool) {
	rows := r.tables(server)
	if len(rows) < 2 {
		return 0, false
	}
	a, okA := medianOf(r.ns[sizeKey{server, rows[0]}][op])
	b, okB := medianOf(r.ns[sizeKey{server, rows[len(rows)-1]}][op])
	if !okA || !okB || a == 0 {
		return 0, false
	}
	return b / a, true
}

// bytesRatio is MariaDB's bytes a row over PostgreSQL's, on each one's
// largest table.
func (r *sizeResults) bytesRatio() (float64, bool) {
	pg, my := r.tables("postgres"), r.tables("mariadb")
	if len(pg) == 0 || len(my) == 0 {
		return 0, false
	}
	pb, mb := r.bytes[sizeKey{"postgres", pg[len(pg)-1]}], r.bytes[sizeKey{"mariadb", my[len(my)-1]}]
	if pb <= 0 || mb <= 0 {
		return 0, false
	}
	return mb / pb, true
}

// sizeSummary is the table-size line of the report's summary, or "".
func sizeSummary(r *sizeResults) string {
	var parts []string
	for _, s := range serversWhere(func(s string) bool { return len(r.tables(s)) > 1 }) {
		met, n := 0, 0
		var missed []string
		for _, op := range sizeOps {
			v, ok := r.ratio(s.name, op.name)
			if !ok {
				continue
			}
			n++
			if v <= sizeFactor {
				met++
			} else {
				missed = append(missed, fmt.Sprintf("%s %.2fx", op.name, v))
			}
		}
		part := fmt.Sprintf("%s %d of %d", s.title, met, n)
		if len(missed) > 0 {
			part += " (" + strings.Join(missed, ", ") + ")"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	line := fmt.Sprintf("[Table size](#table-size): operations on the large table within %.1fx of the small: %s.", sizeFactor, strings.Join(parts, "; "))
	if v, ok := r.bytesRatio(); ok {
		verdict := "met"
		if v > bytesFactor {
			verdict = "**not met**"
		}
		line += fmt.Sprintf(" MariaDB's bytes a row %.2fx PostgreSQL's (goal %.1fx): %s.", v, bytesFactor, verdict)
	}
	return line
}

// serversWhere returns the servers, in the report's order, for which has
// is true of their name.
func serversWhere(has func(string) bool) []srv {
	var out []srv
	for _, s := range servers {
		if has(s.name) {
			out = append(out, s)
		}
	}
	return out
}

// machine is " Machine: cpu.", or "" when the output named none.
func machine(cpu string) string {
	if cpu == "" {
		return ""
	}
	return " Machine: " + cpu + "."
}

// thousands writes n with commas: 10,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
