package accessctl_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The specifications the code was written from live outside the
// repository; each protocol package carries its own PROTOCOL.md instead,
// so a doc that names one of those files sends a reader nowhere.
var externalSpecs = regexp.MustCompile(`\b(door-terminals|permissions-qr-events|intercom-sip|parking-led|platform-integrations|design)\.md\b`)

func TestDocsCiteNothingOutsideTheRepository(t *testing.T) {
	root := filepath.Join("..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", root, err)
	}
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".go" && ext != ".md" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			if m := externalSpecs.FindString(line); m != "" {
				t.Errorf("%s:%d cites %s, which is not in the repository", path, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked only %d files: the walk missed the tree", checked)
	}
}
