package hciot

import "sync/atomic"

// DeferredLookup is a MachineLookup and PersonLookup for a Server that is
// built after the Uploader: the uploader sits in the event path of the
// drivers the server opens, so it must exist first. Until Set is called it
// knows no machine.
type DeferredLookup struct{ srv atomic.Pointer[Server] }

// Set makes the lookup answer from s.
func (d *DeferredLookup) Set(s *Server) { d.srv.Store(s) }

// Machine implements MachineLookup.
func (d *DeferredLookup) Machine(code string) (Machine, bool) {
	if s := d.srv.Load(); s != nil {
		return s.Machine(code)
	}
	return Machine{}, false
}

// PersonName implements PersonLookup.
func (d *DeferredLookup) PersonName(userID string) (string, bool) {
	if s := d.srv.Load(); s != nil {
		return s.PersonName(userID)
	}
	return "", false
}
