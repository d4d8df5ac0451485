// Package backoff computes jittered exponential delays for reconnects and
// retries, so that a thousand devices coming back after a power cut do not
// knock on the same second. It is a leaf: it imports nothing of Menjin's,
// so drivers, sinks and host programs share one policy type.
//
// Shortest use:
//
//	p := backoff.Default // 1 s doubling to 60 s, ±20 %
//	time.Sleep(p.Delay(attempt))
package backoff
