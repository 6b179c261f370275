package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The cleanup goal: the clients' p99 while a cleanup runs within
// cleanupFactor of their p99 without one, for each case, on a table of
// cleanupGoalRows rows.
const (
	cleanupFactor   = 2.0
	cleanupGoalRows = 10_000_000
)

// cleanupCases are BenchmarkCleanupUnderLoad's cases that delete, in its
// order, with what each stands for.
var cleanupCases = []struct{ name, what string }{
	{"1%", "a site that cleans up as it should: about a quarter of an hour of expiries of a table that turns over in a day"},
	{"49%", "a backlog: the rest of the expired half, as after a day without cleanup"},
}

var (
	cleanupRE    = regexp.MustCompile(`^BenchmarkCleanupUnderLoad/server=([\w-]+)/expired=([\w%]+?)(?:-\d+)?$`)
	cleanupTable = regexp.MustCompile(`cleanup table: server=([\w-]+) rows=(\d+) [^;]*(?:; started (.+))?$`)
)

// cleanupResults are BenchmarkCleanupUnderLoad's metrics, by server and
// case, and each server's table size.
type cleanupResults struct {
	cpu     string
	metrics map[[2]string]map[string][]float64
	rows    map[string]int
	// started is when each server's run began, where its log says
	// (runs before 2026-12-05 22:00 did not).
	started map[string]string
	failed  []string
}

func parseCleanup(r io.Reader) (*cleanupResults, error) {
	res := &cleanupResults{metrics: map[[2]string]map[string][]float64{}, rows: map[string]int{}, started: map[string]string{}}
	var err error
	res.cpu, res.failed, err = scanFamily(r, family{
		prefix: "BenchmarkCleanupUnderLoad",
		name:   cleanupRE,
		log: func(line string) bool {
			m := cleanupTable.FindStringSubmatch(line)
			if m != nil {
				res.rows[m[1]], _ = strconv.Atoi(m[2])
				if m[3] != "" {
					res.started[m[1]] = strings.TrimSpace(m[3])
				}
			}
			return m != nil
		},
		result: func(m []string, line string, f []string) error {
			k := [2]string{m[1], m[2]}
			if res.metrics[k] == nil {
				res.metrics[k] = map[string][]float64{}
			}
			return eachMetric(line, f, func(unit string, v float64) { res.metrics[k][unit] = append(res.metrics[k][unit], v) })
		},
	})
	return res, err
}

func (r *cleanupResults) median(server, c, unit string) (float64, bool) {
	return medianOf(r.metrics[[2]string{server, c}][unit])
}

// verdict is the clients' p99 during case c on server over their p99
// without it; ok is false when it was not measured.
func (r *cleanupResults) verdict(server, c string) (float64, bool) {
	idle, okI := r.median(server, c, "idle-p99-µs")
	during, okD := r.median(server, c, "cleanup-p99-µs")
	if !okI || !okD || idle <= 0 {
		return 0, false
	}
	return during / idle, true
}

// cleanupSummary is the cleanup line of the report's summary, or "".
func cleanupSummary(r *cleanupResults) string {
	var parts []string
	for _, s := range serversWhere(func(s string) bool { return r.rows[s] > 0 }) {
		var cases []string
		for _, c := range cleanupCases {
			if v, ok := r.verdict(s.name, c.name); ok {
				mark := "met"
				if v > cleanupFactor {
					mark = "**not met**"
				}
				cases = append(cases, fmt.Sprintf("%s expired %.2fx, %s", c.name, v, mark))
			}
		}
		rate := ""
		if v, ok := r.median(s.name, "49%", "rows/s"); ok {
			rate = fmt.Sprintf(", a backlog at %s rows/s", thousands(int(v)))
		}
		parts = append(parts, fmt.Sprintf("%s (%s rows): %s%s", s.title, thousands(r.rows[s.name]), strings.Join(cases, "; "), rate))
	}
	if len(parts) == 0 {
		return ""
	}
	earlier := ""
	if old := r.earlier(serversWhere(func(s string) bool { return r.rows[s] > 0 })); len(old) > 0 {
		earlier = fmt.Sprintf(" %s measured the earlier way (see the section).", strings.Join(old, ", "))
	}
	return fmt.Sprintf("[Cleanup under load](#cleanup-under-load): the clients' p99 during a cleanup over their p99 without (goal %.0fx): %s.%s", cleanupFactor, strings.Join(parts, "; "), earlier)
}

// cleanupWhy is what, besides the shared cores, a server's cleanup adds to
// the clients' tail, for the note on a server that misses the goal.
var cleanupWhy = map[string]string{
	"mariadb": "InnoDB's purge threads then remove the deleted rows and their index entries, on the same cores. ",
}

// missNote says why server s's cleanup missed the goal: its clients' p99
// with and without a cleanup, beside the other servers' in ran, and what
// the rate and rests measured say of it.
func (r *cleanupResults) missNote(s srv, ran []srv) string {
	span := func(server, unit string) string {
		var vs []float64
		for _, c := range cleanupCases {
			if v, ok := r.median(server, c.name, unit); ok {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			return "not measured"
		}
		lo, hi := slices.Min(vs), slices.Max(vs)
		if dur(lo*1000) == dur(hi*1000) {
			return dur(lo * 1000)
		}
		return dur(lo*1000) + " to " + dur(hi*1000)
	}
	var during, idle []string
	for _, o := range ran {
		if o.name != s.name {
			during = append(during, o.title+" "+span(o.name, "cleanup-p99-µs"))
			idle = append(idle, o.title+" "+span(o.name, "idle-p99-µs"))
		}
	}
	batch, slow := "", ""
	if rate, ok := r.median(s.name, "49%", "rows/s"); ok && rate > 0 {
		// A batch (store.go's cleanupBatch) rests as long as it took, twice
		// that on MySQL-family servers (cleanupRestFactor and
		// cleanupRestFactorMySQL).
		size, rest := 500.0, 1.0
		switch s.name {
		case "sqlite":
			size = 50
		case "mariadb":
			rest = 2
		}
		batch = fmt.Sprintf(" (%.0f rows, some %.0f ms going by the backlog's rate of %s rows/s and its rests)", size, 1000*size/rate/(1+rest), thousands(int(rate)))
		// A rest of a hundred batches' time.
		perSec := rate * (1 + rest) / 101
		slow = fmt.Sprintf("By reckoning from that rate, meeting fewer than one request in a hundred takes a rest of a hundred "+
			"times the batch: about %s rows a second, %.0f hours for a day's backlog of five million rows. ", thousands(int(perSec)), 5e6/perSec/3600)
	}
	return fmt.Sprintf("during a cleanup the clients' p99 on %s was %s, about what it was on the other servers (%s; PgBouncer adds a hop): "+
		"the four clients already fill both cores, a batch%s takes one of them, and %s"+
		"%s misses because its p99 without a cleanup is the lowest: %s, against %s. "+
		"Resting longer between batches does not lower the p99 as long as more than one request in a hundred meets a batch: "+
		"resting once the batch's time and twice it both gave ratios from 1.7x to 2.4x over five runs on MariaDB (2026-12-05). "+
		"%sOn a database server with cores of its own, as in production, the clients do not share the cleanup's cores at all.",
		s.title, span(s.name, "cleanup-p99-µs"), strings.Join(during, ", "), batch, cleanupWhy[s.name],
		s.title, span(s.name, "idle-p99-µs"), strings.Join(idle, ", "), slow)
}

// when says when the servers of ran were measured: from the start their
// log gives, or date when none gives one (results from before the log
// did).
func (r *cleanupResults) when(ran []srv, date string) string {
	if len(r.started) == 0 {
		return date
	}
	var order, unknown []string
	by := map[string][]string{}
	for _, s := range ran {
		d := r.started[s.name]
		if d == "" {
			unknown = append(unknown, s.title)
			continue
		}
		if by[d] == nil {
			order = append(order, d)
		}
		by[d] = append(by[d], s.title)
	}
	parts := make([]string, len(order))
	for i, d := range order {
		parts[i] = d + " (" + strings.Join(by[d], ", ") + ")"
	}
	out := strings.Join(parts, ", ")
	if len(unknown) > 0 {
		out += " and in earlier runs, whose time raw.txt does not keep (" + strings.Join(unknown, ", ") + ")"
	}
	return out
}

// earlier names the servers of ran whose cases were measured before the
// window without a cleanup was idleWindow long on a settled server: their
// results lack the idle-s metric.
func (r *cleanupResults) earlier(ran []srv) []string {
	var old []string
	for _, s := range ran {
		for _, c := range cleanupCases {
			m := r.metrics[[2]string{s.name, c.name}]
			if m != nil && len(m["idle-s"]) == 0 {
				old = append(old, s.title)
				break
			}
		}
	}
	return old
}

// writeCleanup writes the "Cleanup under load" section, or nothing when the
// raw output has no BenchmarkCleanupUnderLoad.
func writeCleanup(w func(string, ...any), r *cleanupResults, date string) {
	ran := serversWhere(func(s string) bool { return r.rows[s] > 0 })
	if len(ran) == 0 && len(r.failed) == 0 {
		return
	}
	w("\n## Cleanup under load\n\nMeasured on %s.%s `BenchmarkCleanupUnderLoad` (`CLEANUP=1 bench/run`): `Store.Cleanup` on a session table of generated rows (`integration/sessionfill`, half of them expired, evenly over the day before), ", r.when(ran, date), machine(r.cpu))
	w("while four clients read and write live sessions through a Gin engine (one request in four a write, each client sending its next request as soon as the last one is answered, which keeps both cores busy), ")
	w("against the same clients for 20 s with no cleanup running, just before it. Each case starts on a settled server, as the table-size benchmark's operations do (a CHECKPOINT on PostgreSQL; on MariaDB, InnoDB's dirty pages and its purge's backlog of the case before no longer falling; SQLite's write-ahead log emptied), so that the window without a cleanup does not carry the last one's aftermath. On one table, in order: ")
	for i, c := range cleanupCases {
		w("a cleanup of %s of the table, %s; ", c.name, c.what)
		if i == len(cleanupCases)-1 {
			w("then a cleanup with nothing to delete, a hundred times. ")
		}
	}
	w("The goal: on %s rows, the clients' p99 during each cleanup within %.0fx of their p99 without; `left` counts the rows expired before the cleanup began that were still there after it, which must be none.\n\n", thousands(cleanupGoalRows), cleanupFactor)
	if old := r.earlier(ran); len(old) > 0 {
		w("**%s measured the earlier way:** the window without a cleanup was 5 s long and began right after the case before, unsettled; rerun with `CLEANUP=only SERVERS=...` to compare alike.\n\n", strings.Join(old, ", "))
	}
	var short []string
	for _, s := range ran {
		if r.rows[s.name] < cleanupGoalRows {
			short = append(short, fmt.Sprintf("%s %s rows", s.title, thousands(r.rows[s.name])))
		}
	}
	if len(short) > 0 {
		w("**This run's tables are smaller than the goal's %s rows:** %s. The verdicts below are for the sizes run; `GINSESSION_BENCH_CLEANUP_ROWS` set the size.\n\n", thousands(cleanupGoalRows), strings.Join(short, "; "))
	}
	w("| server | rows | expired | deleted | left | took | rows/s | p50 without | p50 during | p99 without | p99 during | p99 during / without | within %.0fx |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n", cleanupFactor)
	for _, s := range ran {
		for _, c := range cleanupCases {
			secs, ok := r.median(s.name, c.name, "cleanup-s")
			if !ok {
				w("| %s | %s | %s | – | – | – | – | – | – | – | – | – | not measured |\n", s.title, thousands(r.rows[s.name]), c.name)
				continue
			}
			get := func(unit string) float64 { v, _ := r.median(s.name, c.name, unit); return v }
			idle, during := get("idle-p99-µs"), get("cleanup-p99-µs")
			verdict := metYes
			if v, ok := r.verdict(s.name, c.name); !ok || v > cleanupFactor {
				verdict = metNo
			}
			deleted, left := thousands(int(get("rows-deleted"))), "–" // not counted before the benchmark did
			if exp, ok := r.median(s.name, c.name, "rows-expired"); ok && exp != get("rows-deleted") {
				deleted = fmt.Sprintf("**%s of %s**", deleted, thousands(int(exp)))
			}
			if n, ok := r.median(s.name, c.name, "rows-left"); ok {
				left = thousands(int(n))
				if n > 0 {
					left = "**" + left + "**"
				}
			}
			w("| %s | %s | %s | %s | %s | %.1f s | %s | %s | %s | %s | %s | %s | %s |\n", s.title, thousands(r.rows[s.name]), c.name,
				deleted, left, secs, thousands(int(get("rows/s"))),
				dur(get("idle-p50-µs")*1000), dur(get("cleanup-p50-µs")*1000), dur(idle*1000), dur(during*1000), ratio(during, idle, idle > 0), verdict)
		}
	}
	w("\nA cleanup with nothing to delete (median of a hundred): ")
	var empty []string
	for _, s := range ran {
		if v, ok := r.median(s.name, "none", "empty-cleanup-µs"); ok {
			empty = append(empty, fmt.Sprintf("%s %s", s.title, dur(v*1000)))
		}
	}
	if len(empty) == 0 {
		empty = []string{"not measured"}
	}
	w("%s.\n", strings.Join(empty, ", "))
	for _, s := range ran {
		for _, c := range cleanupCases {
			if v, ok := r.verdict(s.name, c.name); ok && v > cleanupFactor {
				w("\n**%s, not met:** %s\n", s.title, r.missNote(s, ran))
				break
			}
		}
	}
	if len(r.failed) > 0 {
		w("\nFailed: %s (see raw.txt).\n", strings.Join(r.failed, ", "))
	}
}
