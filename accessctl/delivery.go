package accessctl

import (
	"context"
	"sync"
	"sync/atomic"
)

// DeliveryStats is the shape every driver's Stats embeds for what it handed
// to its EventSink, status events included.
type DeliveryStats struct {
	Delivered uint64 // accepted by the sink (only then acknowledged to the device)
	Refused   uint64 // refused by the sink; the device was not acknowledged and sends again
	Retried   uint64 // accepted deliveries of an event the sink had refused before
	Dropped   uint64 // given up without the sink accepting: 0 in a healthy gateway
}

// maxRefusedIDs bounds what a DeliveryCounter remembers to count retries.
const maxRefusedIDs = 1024

// DeliveryCounter counts deliveries to a sink for DeliveryStats. Its zero
// value is ready; it is safe for concurrent use.
type DeliveryCounter struct {
	delivered, refused, retried, dropped atomic.Uint64

	mu      sync.Mutex
	pending map[string]struct{} // ids refused and not yet delivered
	order   []string            // pending's ids oldest first, to bound it
}

// Deliver hands e to sink and counts the outcome; the error is the sink's.
func (c *DeliveryCounter) Deliver(ctx context.Context, sink EventSink, e Event) error {
	if err := sink.Handle(ctx, e); err != nil {
		c.refused.Add(1)
		c.remember(e.ID)
		return err
	}
	c.delivered.Add(1)
	if c.forget(e.ID) {
		c.retried.Add(1)
	}
	return nil
}

// Drop counts an event given up without the sink accepting it.
func (c *DeliveryCounter) Drop() { c.dropped.Add(1) }

// Stats returns the counters.
func (c *DeliveryCounter) Stats() DeliveryStats {
	return DeliveryStats{Delivered: c.delivered.Load(), Refused: c.refused.Load(),
		Retried: c.retried.Load(), Dropped: c.dropped.Load()}
}

func (c *DeliveryCounter) remember(id string) {
	if id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		c.pending = map[string]struct{}{}
	}
	if _, ok := c.pending[id]; ok {
		return
	}
	if len(c.order) >= maxRefusedIDs {
		delete(c.pending, c.order[0])
		c.order = c.order[1:]
	}
	c.pending[id] = struct{}{}
	c.order = append(c.order, id)
}

func (c *DeliveryCounter) forget(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[id]; !ok {
		return false
	}
	delete(c.pending, id)
	for i, o := range c.order {
		if o == id {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	return true
}
