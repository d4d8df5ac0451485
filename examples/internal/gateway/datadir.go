package gateway

import (
	"os"
	"path/filepath"
)

// DefaultDataDir is the example programs' default -data: a folder under
// the user's cache directory, or under the system's temporary directory
// where there is none.
func DefaultDataDir(program string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "menjin", program)
}
