package ginsession_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The pages whose Go snippets are compiled and whose links are checked.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("docs/*.md")
	require.NoError(t, err)
	require.NotEmpty(t, pages, "docs/*.md")
	return append([]string{"README.md", "SECURITY.md", "CHANGELOG.md"}, pages...)
}

// TestDocsSnippetsCompile compiles every ```go block of the pages, so that
// no page can drift from the code. docs/development.md ("The docs are
// tested") gives writers the convention: a block that starts with package
// is a whole file, any other is a fragment that sees a fixed set of imports
// and variables (snippetImports, snippetCommon), at package level when it
// parses as declarations and in a function body otherwise.
//
// All snippets compile in one module, one package per page and per whole-
// file package, with one go vet, offline. A //line comment maps each
// snippet to its page, so an error names the page and line.
func TestDocsSnippetsCompile(t *testing.T) {
	files := map[string]string{}
	count := 0
	for _, page := range docPages(t) {
		text, err := os.ReadFile(page)
		require.NoError(t, err)
		pkg := snippetPackage(page)
		fragments := 0
		for _, b := range goBlocks(string(text)) {
			count++
			if name, ok := packageClause(b.code); ok {
				dir := pkg + "_" + name
				file := fmt.Sprintf("%s/l%d.go", dir, b.line)
				if strings.Contains(b.code, "\nfunc Test") {
					file = strings.TrimSuffix(file, ".go") + "_test.go"
				}
				files[file] = fmt.Sprintf("//line %s:%d\n%s\n", abs(t, page), b.line, b.code)
				continue
			}
			fragments++
			src, err := fragmentFile(pkg, abs(t, page), b)
			require.NoError(t, err, "%s:%d", page, b.line)
			files[fmt.Sprintf("%s/l%d.go", pkg, b.line)] = src
		}
		if fragments > 0 {
			files[pkg+"/common.go"] = snippetCommon(pkg)
		}
	}
	require.Greater(t, count, 10, "the pages' Go snippets")

	dir := offlineModule(t, "docsnippets", files)
	out, err := goIn(t, dir, "vet", "./...")
	require.NoError(t, err, "go vet on the pages' Go snippets (each error names its page and line; the convention is in docs/development.md):\n%s", out)
	t.Logf("compiled %d Go snippets of %d pages", count, len(docPages(t)))
}

// A goBlock is the code of a ```go block and the page line it starts on.
type goBlock struct {
	line int
	code string
}

// goBlocks returns the ```go blocks of a Markdown page.
func goBlocks(page string) []goBlock {
	var blocks []goBlock
	var cur *goBlock
	var lines []string
	fence, indent := "", ""
	for i, l := range strings.Split(page, "\n") {
		trimmed := strings.TrimSpace(l)
		switch {
		case fence == "" && strings.HasPrefix(trimmed, "```"):
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
			indent = l[:len(l)-len(strings.TrimLeft(l, " "))]
			if info := strings.Fields(strings.TrimPrefix(trimmed, fence)); len(info) > 0 && (info[0] == "go" || info[0] == "golang") {
				cur = &goBlock{line: i + 2}
				lines = nil
			}
		case fence != "" && trimmed == fence:
			if cur != nil {
				cur.code = strings.Join(lines, "\n")
				blocks = append(blocks, *cur)
				cur = nil
			}
			fence = ""
		case cur != nil:
			lines = append(lines, strings.TrimPrefix(l, indent))
		}
	}
	return blocks
}

// snippetPackage names the package of a page's fragments: docs/guide.md's
// is docs_guide.
func snippetPackage(page string) string {
	name := strings.ToLower(strings.TrimSuffix(filepath.ToSlash(page), ".md"))
	return strings.NewReplacer("/", "_", "-", "_", ".", "_").Replace(name)
}

var packageRE = regexp.MustCompile(`^package ([a-z_][a-z0-9_]*)\b`)

// packageClause reports whether code is a whole file, and its package.
func packageClause(code string) (string, bool) {
	m := packageRE.FindStringSubmatch(code)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// snippetImports are the imports every fragment sees; a fragment's own
// import of the same name replaces one. Each is kept used by its blank
// variable, so that a fragment need not use it.
var snippetImports = []struct{ path, use string }{
	{"context", "context.Background"},
	{"errors", "errors.Is"},
	{"fmt", "fmt.Sprint"},
	{"log", "log.Print"},
	{"log/slog", "slog.Info"},
	{"net/http", "http.StatusOK"},
	{"net/url", "url.Values{}"},
	{"os", "os.Getenv"},
	{"path/filepath", "filepath.Join"},
	{"strings", "strings.Cut"},
	{"testing", "testing.Short"},
	{"time", "time.Second"},
	{"github.com/gin-gonic/gin", "gin.Default"},
	{"github.com/ginsession/ginsession", "ginsession.Default"},
	{"github.com/ginsession/ginsession/ginsessiontest", "ginsessiontest.New"},
	{"github.com/stretchr/testify/assert", "assert.Equal"},
	{"github.com/stretchr/testify/require", "require.NoError"},
	{"gorm.io/driver/sqlite", "sqlite.Open"},
	{"gorm.io/gorm", "gorm.Open"},
}

// snippetCommon declares the variables a page's fragments may use.
func snippetCommon(pkg string) string {
	return "package " + pkg + `

import (
	"context"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"gorm.io/gorm"
)

var (
	db        *gorm.DB
	store     *ginsession.Store
	r         *gin.Engine
	c         *gin.Context
	s         *ginsession.Session
	ctx       context.Context
	userID    string
	newRouter func(*ginsession.Store) *gin.Engine
)
`
}

var importLineRE = regexp.MustCompile(`^import\s+(?:([A-Za-z_][A-Za-z0-9_]*|\.)\s+)?"([^"]+)"\s*(?://.*)?$`)
var importSpecRE = regexp.MustCompile(`^\s*(?:([A-Za-z_][A-Za-z0-9_]*|\.)\s+)?"([^"]+)"\s*(?://.*)?$`)

// fragmentFile makes a Go file of a fragment: its own imports and the
// fixed ones, then the fragment at package level or in a function, behind
// a //line comment that points at the page.
func fragmentFile(pkg, page string, b goBlock) (string, error) {
	lines := strings.Split(b.code, "\n")
	own := map[string]string{} // name → import spec
	inBlock := false
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		var m []string
		switch {
		case inBlock && trimmed == ")":
			inBlock = false
		case inBlock:
			if m = importSpecRE.FindStringSubmatch(l); m == nil && trimmed != "" {
				return "", fmt.Errorf("line %d: not an import spec: %q", i+1, l)
			}
		case trimmed == "import (":
			inBlock = true
		case strings.HasPrefix(trimmed, "import "):
			if m = importLineRE.FindStringSubmatch(trimmed); m == nil {
				return "", fmt.Errorf("line %d: not an import: %q", i+1, l)
			}
		case trimmed == "" || strings.HasPrefix(trimmed, "//"):
			continue // before the first import, or between imports
		default:
			lines = lines[i:]
			// Blank lines for the imports taken out keep the page's numbering.
			body := strings.Repeat("\n", i) + strings.Join(lines, "\n")
			return assembleFragment(pkg, page, b.line, own, body)
		}
		if m != nil {
			name := m[1]
			if name == "" {
				name = importName(m[2])
			}
			own[name] = strings.TrimSpace(m[0])
		}
		lines[i] = ""
	}
	return "", fmt.Errorf("a fragment with no code")
}

func assembleFragment(pkg, page string, line int, own map[string]string, body string) (string, error) {
	var imports, uses []string
	for _, spec := range own {
		imports = append(imports, strings.TrimPrefix(spec, "import "))
	}
	for _, imp := range snippetImports {
		if _, ok := own[importName(imp.path)]; ok {
			continue
		}
		imports = append(imports, strconv.Quote(imp.path))
		uses = append(uses, "_ = "+imp.use)
	}
	sort.Strings(imports)
	sort.Strings(uses)
	head := "package " + pkg + "\n\nimport (\n\t" + strings.Join(imports, "\n\t") + "\n)\n\nvar (\n\t" + strings.Join(uses, "\n\t") + "\n)\n\n"
	directive := fmt.Sprintf("//line %s:%d\n", page, line)
	if _, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+body, parser.SkipObjectResolution); err == nil {
		return head + directive + body + "\n", nil // top-level declarations
	}
	return head + "func _() {\n" + directive + body + "\n}\n", nil
}

// importName is the name an import path binds without an explicit one.
func importName(p string) string {
	base := path.Base(p)
	if regexp.MustCompile(`^v[0-9]+$`).MatchString(base) {
		base = path.Base(path.Dir(p))
	}
	return base
}

// offlineModule writes files into a module of its own named name, which
// takes this repository for ginsession and the requirements of its own
// modules (the library, integration/ for the server drivers, purego/ for
// the pure-Go SQLite driver), so that everything resolves from the module
// cache that building this repository filled, without the network.
func offlineModule(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	versions := map[string]string{}
	sums := map[string]bool{}
	for _, mod := range []string{".", "integration", "purego"} {
		gomod, err := os.ReadFile(filepath.Join(mod, "go.mod"))
		require.NoError(t, err)
		for _, m := range regexp.MustCompile(`(?m)^\s*(?:require\s+)?([a-z0-9.\-]+\.[a-z]+/\S+) (v\S+)`).FindAllStringSubmatch(string(gomod), -1) {
			if m[1] == "github.com/ginsession/ginsession" {
				continue
			}
			if v, ok := versions[m[1]]; !ok || versionLess(v, m[2]) {
				versions[m[1]] = m[2]
			}
		}
		gosum, err := os.ReadFile(filepath.Join(mod, "go.sum"))
		require.NoError(t, err)
		for _, l := range strings.Split(string(gosum), "\n") {
			if l != "" {
				sums[l] = true
			}
		}
	}
	var reqs, sumLines []string
	for p, v := range versions {
		reqs = append(reqs, "\t"+p+" "+v)
	}
	for l := range sums {
		sumLines = append(sumLines, l)
	}
	sort.Strings(reqs)
	sort.Strings(sumLines)
	files["go.mod"] = "module " + name + "\n\ngo 1.26\n\nrequire (\n\tgithub.com/ginsession/ginsession v0.0.0\n" +
		strings.Join(reqs, "\n") + "\n)\n\nreplace github.com/ginsession/ginsession => " + root + "\n"
	files["go.sum"] = strings.Join(sumLines, "\n") + "\n"

	dir := t.TempDir()
	for file, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(file))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	return dir
}

// versionLess compares two module versions: release numbers first, then a
// release above its pre-releases, then pre-releases (and pseudo-versions)
// as text.
func versionLess(a, b string) bool {
	split := func(v string) ([3]int, string) {
		v = strings.TrimSuffix(strings.TrimPrefix(v, "v"), "+incompatible")
		core, pre, _ := strings.Cut(v, "-")
		var n [3]int
		for i, part := range strings.SplitN(core, ".", 3) {
			n[i], _ = strconv.Atoi(part)
		}
		return n, pre
	}
	na, pa := split(a)
	nb, pb := split(b)
	if na != nb {
		for i := range na {
			if na[i] != nb[i] {
				return na[i] < nb[i]
			}
		}
	}
	switch {
	case pa == pb:
		return false
	case pa == "":
		return false
	case pb == "":
		return true
	}
	return pa < pb
}

// goIn runs the go command in dir without the network (GOPROXY=off).
//
// In a fresh clone the module cache holds only the library's requirements,
// not the drivers that integration/ and purego/ bring, which the pages
// import. When the go command says so, goIn downloads the module's
// requirements once, as go test itself fetches the library's (the go.sum
// of this repository pins every one), and runs the command offline again.
func goIn(t *testing.T, dir string, args ...string) ([]byte, error) {
	t.Helper()
	run := func(env []string, args ...string) ([]byte, error) {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), append([]string{"GOFLAGS=-mod=mod", "GOWORK=off"}, env...)...)
		return cmd.CombinedOutput()
	}
	out, err := run([]string{"GOPROXY=off"}, args...)
	if err == nil || !strings.Contains(string(out), "disabled by GOPROXY=off") {
		return out, err
	}
	t.Logf("the module cache lacks modules the pages import; downloading them once:\n%s", out)
	if dl, err := run(nil, "mod", "download"); err != nil {
		return append(out, dl...), fmt.Errorf("go mod download: %w", err)
	}
	return run([]string{"GOPROXY=off"}, args...)
}

// TestDocsLinksResolve checks every relative link of the pages: the file
// it names exists, and its #anchor is a heading there (by GitHub's rules).
func TestDocsLinksResolve(t *testing.T) {
	for _, page := range docPages(t) {
		text, err := os.ReadFile(page)
		require.NoError(t, err)
		for _, l := range markdownLinks(string(text)) {
			target, anchor, _ := strings.Cut(l.target, "#")
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file := page
			if target != "" {
				file = filepath.Join(filepath.Dir(page), filepath.FromSlash(target))
				if _, err := os.Stat(file); err != nil {
					assert.Failf(t, "broken link", "%s:%d: %s: no such file", page, l.line, l.target)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(file, ".md") {
				assert.Failf(t, "broken link", "%s:%d: %s: an anchor into a file that is not Markdown", page, l.line, l.target)
				continue
			}
			body, err := os.ReadFile(file)
			require.NoError(t, err)
			if !headingAnchors(string(body))[anchor] {
				assert.Failf(t, "broken link", "%s:%d: %s: %s has no heading with that anchor", page, l.line, l.target, file)
			}
		}
	}
}

// TestReadmeKeepsTheNewcomerCommands checks that the front page still says
// how to try the library and how to run its tests.
func TestReadmeKeepsTheNewcomerCommands(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, cmd := range []string{"go run ./example", "go run -x ./example", "go test ./...", "go test -race ./..."} {
		assert.Contains(t, string(readme), cmd)
	}
}

type mdLink struct {
	line   int
	target string
}

var linkRE = regexp.MustCompile(`\]\(([^()\s]+)(?:\s+"[^"]*")?\)`)
var codeSpanRE = regexp.MustCompile("`[^`]*`")

// markdownLinks returns the inline links of a page outside code.
func markdownLinks(page string) []mdLink {
	var links []mdLink
	for i, l := range outsideCode(page) {
		for _, m := range linkRE.FindAllStringSubmatch(codeSpanRE.ReplaceAllString(l, ""), -1) {
			links = append(links, mdLink{line: i + 1, target: m[1]})
		}
	}
	return links
}

// outsideCode returns the page's lines with those of fenced and indented
// code blocks emptied, so that line numbers stay.
func outsideCode(page string) []string {
	lines := strings.Split(page, "\n")
	fence := ""
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		switch {
		case fence == "" && strings.HasPrefix(trimmed, "```"):
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
			lines[i] = ""
		case fence != "":
			if trimmed == fence {
				fence = ""
			}
			lines[i] = ""
		case strings.HasPrefix(l, "    ") || strings.HasPrefix(l, "\t"):
			lines[i] = ""
		}
	}
	return lines
}

var headingRE = regexp.MustCompile(`^#{1,6} `)

// headingAnchors returns the anchors GitHub gives a page's headings:
// lowercased, punctuation dropped, spaces made hyphens, and -1, -2 after
// a repeated one.
func headingAnchors(page string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, l := range outsideCode(page) {
		if !headingRE.MatchString(l) {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

// abs is the absolute path of a page, for //line comments that name it.
func abs(t *testing.T, page string) string {
	t.Helper()
	p, err := filepath.Abs(page)
	require.NoError(t, err)
	return p
}
