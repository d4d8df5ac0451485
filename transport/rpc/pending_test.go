package rpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/internal/testutil"
)

func TestPendingResolve(t *testing.T) {
	var p Pending[string]
	c, err := p.Add("1")
	require.NoError(t, err)
	_, err = p.Add("1")
	assert.ErrorIs(t, err, ErrDuplicateID)
	id, ok := p.Only()
	assert.True(t, ok)
	assert.Equal(t, "1", id)

	go func() { assert.Equal(t, Delivered, p.Resolve("1", "reply")) }()
	v, err := c.Wait(context.Background(), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "reply", v)
	assert.Equal(t, Duplicate, p.Resolve("1", "again"), "first reply wins")
	assert.Equal(t, Unknown, p.Resolve("2", "x"))
	assert.Equal(t, Unknown, p.Resolve("", "x"))
	assert.Equal(t, 0, p.Len())
}

func TestPendingTimeoutThenLateReply(t *testing.T) {
	var p Pending[string]
	c, err := p.Add("7")
	require.NoError(t, err)
	_, err = c.Wait(context.Background(), 10*time.Millisecond)
	assert.ErrorIs(t, err, ErrTimeout)
	assert.Equal(t, Late, p.Resolve("7", "too late"))
	assert.Equal(t, 0, p.Len())

	c, err = p.Add("8")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = c.Wait(ctx, 0)
	assert.ErrorIs(t, err, ErrTimeout, "a ctx deadline is a timeout")
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	c, err = p.Add("9")
	require.NoError(t, err)
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = c.Wait(ctx, time.Second)
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, errors.Is(err, ErrTimeout))
}

func TestPendingReject(t *testing.T) {
	var p Pending[int]
	c, _ := p.Add("a")
	boom := errors.New("boom")
	assert.Equal(t, Delivered, p.Reject("a", boom))
	_, err := c.Wait(context.Background(), time.Second)
	assert.ErrorIs(t, err, boom)
}

func TestPendingCloseFailsAllWithOffline(t *testing.T) {
	var p Pending[int]
	var calls []*Call[int]
	for i := range 3 {
		c, err := p.Add(fmt.Sprint(i))
		require.NoError(t, err)
		calls = append(calls, c)
	}
	_, ok := p.Only()
	assert.False(t, ok)
	p.Close(ErrOffline)
	for _, c := range calls {
		_, err := c.Wait(context.Background(), time.Second)
		assert.ErrorIs(t, err, ErrOffline)
	}
	_, err := p.Add("x")
	assert.ErrorIs(t, err, ErrOffline)
	assert.Equal(t, Late, p.Resolve("1", 1))
}

func TestPendingRaceResolveVsTimeout(t *testing.T) {
	var p Pending[int]
	var wg sync.WaitGroup
	for i := range 200 {
		id := fmt.Sprint(i)
		c, err := p.Add(id)
		require.NoError(t, err)
		wg.Add(1)
		go func() { defer wg.Done(); p.Resolve(id, i) }()
		v, err := c.Wait(context.Background(), time.Microsecond)
		if err == nil {
			assert.Equal(t, i, v)
		} else {
			assert.ErrorIs(t, err, ErrTimeout)
		}
	}
	testutil.Wait(t, &wg, "resolvers")
	assert.Equal(t, 0, p.Len())
}

func TestPendingReleaseReusesCalls(t *testing.T) {
	var p Pending[string]
	for i := range 50 {
		id := fmt.Sprint(i)
		c, err := p.Add(id)
		require.NoError(t, err)
		assert.Equal(t, id, c.ID())
		go p.Resolve(id, "r"+id)
		v, err := c.Wait(context.Background(), 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, "r"+id, v, "a reused call never returns an earlier reply")
		c.Release()
	}
	// Released too early (misuse): the call stays usable and out of the pool.
	c, err := p.Add("x")
	require.NoError(t, err)
	c.Release()
	assert.Equal(t, Delivered, p.Resolve("x", "ok"))
	v, err := c.Wait(context.Background(), time.Second)
	require.NoError(t, err)
	assert.Equal(t, "ok", v)
	// A timed-out call is released clean: the late reply does not leak into
	// the next call.
	c, _ = p.Add("late")
	_, err = c.Wait(context.Background(), time.Millisecond)
	require.ErrorIs(t, err, ErrTimeout)
	c.Release()
	assert.Equal(t, Late, p.Resolve("late", "stale"))
	c, _ = p.Add("next")
	_, err = c.Wait(context.Background(), 20*time.Millisecond)
	assert.ErrorIs(t, err, ErrTimeout, "no stale value from the pool")
}
