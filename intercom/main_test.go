package intercom

import (
	"testing"

	"go.uber.org/goleak"
)

// Every endpoint, registrar, call and media reader a test starts must be
// gone when the package's tests end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
