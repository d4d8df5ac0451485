//go:build !race

package testutil

// RaceEnabled reports whether the binary runs under the race detector,
// which makes memory-heavy tests about ten times slower: scale tests run
// smaller there and at full size without -race.
const RaceEnabled = false
