package jsonfast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrDuplicateKey is returned by CheckKeys for an object that names a
// member twice: encoding/json keeps the last, so two readers of the same
// body (a proxy that checks the first, a handler that uses the last) could
// disagree on what it says.
var ErrDuplicateKey = errors.New("duplicate key")

// ErrTooDeep is returned by CheckKeys past its depth bound.
var ErrTooDeep = errors.New("nested too deep")

// CheckKeys reports a duplicate member name in any object of the JSON
// document b, comparing names as encoding/json matches them to fields
// (case-insensitively), or nesting deeper than maxDepth. Errors wrap
// ErrDuplicateKey or ErrTooDeep, or are encoding/json's for bad JSON. It
// reads b once, keeping one set of names per open object.
func CheckKeys(b []byte, maxDepth int) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		obj  bool
		keys map[string]struct{}
		key  bool // the next token of an object is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.obj && top.key {
			if k, ok := tok.(string); ok {
				fold := strings.ToLower(strings.ToUpper(k)) // ſ and K fold as encoding/json folds them
				if _, dup := top.keys[fold]; dup {
					return fmt.Errorf("%w %q", ErrDuplicateKey, k)
				}
				top.keys[fold] = struct{}{}
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxDepth {
				return fmt.Errorf("%w: more than %d levels", ErrTooDeep, maxDepth)
			}
			if top != nil && top.obj {
				top.key = true // after this value, a key
			}
			f := frame{obj: tok == json.Delim('{'), key: tok == json.Delim('{')}
			if f.obj {
				f.keys = map[string]struct{}{}
			}
			stack = append(stack, f)
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if top != nil && top.obj {
				top.key = true
			}
		}
	}
}
