// Package jsonfast is hand-written JSON for hot paths: reading the members
// of an object without reflection and writing strings without it. Each
// function is a fast path that agrees with encoding/json byte for byte or
// value for value; where it would have to differ (escaped keys, very deep
// nesting) it reports false and the caller uses encoding/json instead.
// Scalar adds the one leniency our protocols share: a string field that
// arrives as a number.
//
//	var s jsonfast.Scanner
//	s.Reset(msg)
//	for key := range s.Members() {
//		if string(key) == "code" {
//			code, _, _ = s.Value()
//		}
//	}
//	if !s.Done() { /* use encoding/json */ }
package jsonfast
