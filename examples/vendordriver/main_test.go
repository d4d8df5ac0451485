package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDemo runs what `go run ./examples/vendordriver` runs: every device
// passes its pushed card, and every output line is a JSON event.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, 3))
	passes := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e accessctl.Event
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		if e.Kind == accessctl.KindPass {
			require.NotNil(t, e.Pass.Person)
			passes[e.Device.ID] = e.Pass.Person.ID
		}
	}
	assert.Equal(t, map[string]string{"sn-0": "person-0", "sn-1": "person-1", "sn-2": "person-2"}, passes)
}
