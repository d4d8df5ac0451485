package wsterm

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// specVector reads one example of PROTOCOL.md Part A by name
// (testdata/vectors/NAME.json or .txt).
func specVector(t testing.TB, name string) string {
	t.Helper()
	for _, ext := range []string{".json", ".txt"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "vectors", name+ext)); err == nil {
			return string(b)
		}
	}
	t.Fatalf("no spec vector %q", name)
	return ""
}

// specVectors returns every example, sorted by file name.
func specVectors(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.*"))
	if err != nil || len(files) < 22 {
		t.Fatalf("spec vectors missing: %v (%d files)", err, len(files))
	}
	sort.Strings(files)
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}
