package main

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const childEnv = "MENJIN_LINKKITDOOR_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The self-contained round is what a vendor engineer runs first: the key
// push, the grant, a good and a tampered QR code, and a remote open.
func TestSelfContainedRound(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	s := string(out)
	assert.Contains(t, s, "door: RSAPublicKey received")
	assert.Contains(t, s, "granted=true code=0")
	assert.Contains(t, s, "granted=false")
	assert.Contains(t, s, "door: lock released")
	assert.Contains(t, s, "door: opened remotely 1 time(s)")
}
