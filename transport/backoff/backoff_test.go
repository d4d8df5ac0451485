package backoff

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDelayGrowsAndCaps(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second, Factor: 2}
	assert.Equal(t, 100*time.Millisecond, p.Delay(0))
	assert.Equal(t, 200*time.Millisecond, p.Delay(1))
	assert.Equal(t, 800*time.Millisecond, p.Delay(3))
	assert.Equal(t, time.Second, p.Delay(4))
	assert.Equal(t, time.Second, p.Delay(1000))
}

func TestDelayJitterStaysInBand(t *testing.T) {
	p := Default
	seen := map[time.Duration]bool{}
	for i := 0; i < 200; i++ {
		d := p.Delay(0)
		assert.GreaterOrEqual(t, d, 800*time.Millisecond)
		assert.LessOrEqual(t, d, 1200*time.Millisecond)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 10, "jitter must spread the delays")
}
