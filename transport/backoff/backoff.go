package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff: Min, doubling (Factor) up to Max, each
// delay spread by ±Jitter (0.2 = ±20 %).
type Policy struct {
	Min    time.Duration
	Max    time.Duration
	Factor float64
	Jitter float64
}

// Default is 1 s doubling to 60 s with ±20 % jitter, the reconnect rule the
// specs recommend.
var Default = Policy{Min: time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2}

// Delay returns the wait before retry number attempt (0 is the first retry).
func (p Policy) Delay(attempt int) time.Duration {
	if p.Min <= 0 {
		p.Min = Default.Min
	}
	if p.Max < p.Min {
		p.Max = p.Min
	}
	if p.Factor < 1 {
		p.Factor = 2
	}
	d := float64(p.Min)
	for i := 0; i < attempt && d < float64(p.Max); i++ {
		d *= p.Factor
	}
	if d > float64(p.Max) {
		d = float64(p.Max)
	}
	if p.Jitter > 0 {
		d *= 1 + p.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}
