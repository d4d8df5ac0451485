package hciot

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The throttle's table stays bounded however many addresses fail, and
// forgets first the address that failed least.
func TestFailThrottleBounded(t *testing.T) {
	th := newFailThrottle(3, time.Minute, 4)
	now := time.Unix(0, 0)
	for range 3 {
		th.failed("10.0.0.1", now) // spent
	}
	for i := range 1000 {
		th.failed(fmt.Sprintf("10.1.%d.%d", i/250, i%250), now)
		assert.LessOrEqual(t, th.len(), 4)
	}
	ok, wait := th.allowed("10.0.0.1", now)
	assert.False(t, ok, "the spent address is kept: others had tokens left")
	assert.Equal(t, time.Minute, wait)
	ok, _ = th.allowed("10.9.9.9", now)
	assert.True(t, ok, "an address never seen")
	ok, _ = th.allowed("10.0.0.1", now.Add(time.Minute))
	assert.True(t, ok, "a token back after a minute")
	assert.Equal(t, "127.0.0.2", sourceOf("127.0.0.2:5555"))
	assert.Equal(t, "::1", sourceOf("[::1]:5555"))
}
