package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// budget is what a driver may cost: host side plus simulator.
const budget = 500

// codeLines counts the lines of code of a Go file: not blank, not a
// comment, not the package clause or the import block (gofmt's layout, the
// same in every file).
func codeLines(src string) int {
	n, imports := 0, false
	for _, l := range strings.Split(src, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case imports:
			imports = l != ")"
		case l == "import (":
			imports = true
		case l == "", strings.HasPrefix(l, "//"), strings.HasPrefix(l, "package "), strings.HasPrefix(l, "import "):
		default:
			n++
		}
	}
	return n
}

func TestCodeLines(t *testing.T) {
	assert.Equal(t, 2, codeLines("package x\n\nimport (\n\t\"fmt\"\n)\n\n// F says.\nfunc F() {\n}\n"))
}

// TestDriverWithinBudget: linectl and linectltest, tests excluded, stay
// within budget lines of code, so the example keeps proving that a driver
// is small.
func TestDriverWithinBudget(t *testing.T) {
	total := 0
	for _, dir := range []string{"linectl", "linectl/linectltest"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			n := codeLines(string(b))
			t.Logf("%s: %d", f, n)
			total += n
		}
	}
	require.Greater(t, total, 100, "found the driver's files")
	assert.LessOrEqual(t, total, budget, "lines of code of the host side and the simulator")
}
