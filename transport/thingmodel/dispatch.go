package thingmodel

import (
	"hash/fnv"
	"strings"
	"sync"
)

// dispatcher runs device posts on per-device shards, off the link's
// delivery goroutine: a Handler may take its time (a sink writing to disk,
// a call back into the same door) without holding up the replies that
// goroutine also carries, and a slow device does not stall the others.
// Posts of one device stay in order.
type dispatcher struct {
	shards []chan inbound
	wg     sync.WaitGroup
	stop   chan struct{}
}

type inbound struct {
	topic   string
	payload []byte
}

func newDispatcher(shards, depth int, handle func(topic string, payload []byte)) *dispatcher {
	d := &dispatcher{shards: make([]chan inbound, shards), stop: make(chan struct{})}
	for i := range d.shards {
		ch := make(chan inbound, depth)
		d.shards[i] = ch
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			for {
				select {
				case m := <-ch:
					handle(m.topic, m.payload)
				case <-d.stop:
					return
				}
			}
		}()
	}
	return d
}

// offer queues a post without blocking; false when its shard is full.
func (d *dispatcher) offer(topic string, payload []byte) bool {
	ch := d.shards[shardOf(topic, len(d.shards))]
	select {
	case ch <- inbound{topic: topic, payload: append([]byte(nil), payload...)}:
		return true
	default:
		return false
	}
}

// close stops the workers. Posts still queued are not acknowledged, so
// their devices send them again.
func (d *dispatcher) close() {
	close(d.stop)
	d.wg.Wait()
}

// shardOf hashes the device part of a topic (/sys/{pk}/{dn}/...).
func shardOf(topic string, n int) int {
	key := topic
	if i := strings.Index(topic, "/thing/"); i > 0 {
		key = topic[:i]
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}
