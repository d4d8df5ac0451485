package stdproto

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// formAuthed decodes a multipart request with the body limit, then
// authenticates its token field. It answers the terminal itself on failure.
func formAuthed[T any](e *Edge, w http.ResponseWriter, r *http.Request,
	decode func(ct string, body io.Reader, maxPhoto int64) (*T, error), token func(*T) string) (*terminalState, *T) {
	r.Body = http.MaxBytesReader(w, r.Body, e.o.maxForm)
	req, err := decode(r.Header.Get("Content-Type"), r.Body, e.o.maxPhoto)
	if err != nil {
		e.fail(w, err)
		return nil, nil
	}
	st := e.auth(w, r, token(req))
	if st == nil {
		return nil, nil
	}
	return st, req
}

func formRaw(fields map[string]string) json.RawMessage {
	b, _ := json.Marshal(fields)
	return b
}

func (e *Edge) decide(r *http.Request, d accessctl.Decider, req accessctl.DecisionRequest) (accessctl.Decision, error) {
	ctx, cancel := context.WithTimeout(r.Context(), e.o.decideTO)
	defer cancel()
	e.decisions.Add(1)
	dec, err := d.Decide(ctx, req)
	if err == nil && !dec.Allow && dec.Result == (accessctl.Result{}) {
		dec.Result = accessctl.Result{Granted: false, Code: CodeAuthFailed}
	}
	if err == nil && dec.Allow && dec.Result == (accessctl.Result{}) {
		dec.Result = accessctl.Result{Granted: true}
	}
	return dec, err
}

// recordDecision reports the pass the edge itself decided (B.7.1, B.8.1:
// "the edge reports the pass event"). A sink failure cannot be retried by
// the terminal, which has no pass event in this mode: it is reported to the
// error handler and counted, and the person is not kept at the door.
func (e *Edge) recordDecision(r *http.Request, st *terminalState, raw json.RawMessage, m accessctl.Method, cred string, snap *accessctl.Image, dec accessctl.Decision) accessctl.Event {
	p := accessctl.PassEvent{Person: dec.Person, PersonName: dec.Name, Method: m, Credential: cred,
		Kind: accessctl.PassDenied, Result: dec.Result, Snapshot: snap, RemainingScans: dec.RemainingScans}
	if dec.Allow {
		p.Kind = accessctl.PassGranted
	}
	ev := e.passEvent(st, raw, p)
	ctx, cancel := context.WithTimeout(r.Context(), e.o.eventTO)
	defer cancel()
	if err := e.deliver(ctx, ev); err != nil {
		e.reportErr(st.cfg.SN, fmt.Errorf("pass record of a %s decision not accepted by the sink: %w", m, err))
	}
	return ev
}

func (e *Edge) handleRecognize(w http.ResponseWriter, r *http.Request) {
	st, req := formAuthed(e, w, r, DecodeRecognize, func(r *RecognizeRequest) string { return r.Token })
	if st == nil {
		return
	}
	if e.o.recognizer == nil {
		e.refuse(w, CodeOther, MsgUnsupported)
		return
	}
	img := &accessctl.Image{Data: req.Photo, MIME: accessctl.SniffImage(req.Photo)}
	fields := map[string]string{"photo": req.PhotoName, "temperature": req.Temperature}
	if req.DetectFace {
		fields["disableEdgeDetectFace"] = "1"
	}
	raw := formRaw(fields)
	dir := st.config().Direction
	if msg, ok := e.temperatureOK(req.Temperature); !ok {
		dec := accessctl.Decision{Result: accessctl.Result{Code: CodeAuthFailed, Message: msg}}
		e.recordDecision(r, st, raw, accessctl.MethodFace, "", img, dec)
		e.refuse(w, CodeAuthFailed, msg)
		return
	}
	dec, err := e.decide(r, e.o.recognizer, accessctl.DecisionRequest{
		Device:     accessctl.DeviceRef{Platform: Platform, ID: st.cfg.SN},
		Credential: accessctl.Credential{Kind: accessctl.CredFace, Face: img},
		Direction:  dir, At: time.Now(), Snapshot: img, Raw: raw,
	})
	if err != nil {
		e.refuse(w, CodeOther, "recognition failed: "+err.Error())
		return
	}
	ev := e.recordDecision(r, st, raw, accessctl.MethodFace, "", img, dec)
	if !dec.Allow || dec.Person == nil {
		e.refuse(w, CodeAuthFailed, dec.Result.Message)
		return
	}
	writeResp(w, CodeOK, MsgSuccess, RecognizeData{FaceID: dec.Person.ID, Name: dec.Name, PhotoID: ev.ID, UserID: dec.Person.ID})
}

// temperatureOK applies WithTempCheckRule to a reported temperature.
func (e *Edge) temperatureOK(temp string) (string, bool) {
	rule := e.o.tempRule
	if rule == nil || rule.IsCheck != 1 || temp == "" {
		return "", true
	}
	v, err := strconv.ParseFloat(temp, 64)
	lo, _ := strconv.ParseFloat(string(rule.MinThreshold), 64)
	hi, _ := strconv.ParseFloat(string(rule.MaxThreshold), 64)
	if err != nil || v < lo || v > hi {
		return fmt.Sprintf("temperature %s outside [%s, %s]", temp, rule.MinThreshold, rule.MaxThreshold), false
	}
	return "", true
}

func (e *Edge) handleQRCode(w http.ResponseWriter, r *http.Request) {
	var req QRCodeRequest
	st, raw := e.decodeAuthed(w, r, &req, func() string { return req.Token })
	if st == nil {
		return
	}
	if e.o.qrDecider == nil {
		e.refuse(w, CodeOther, MsgUnsupported)
		return
	}
	dir := st.config().Direction
	dec, err := e.decide(r, e.o.qrDecider, accessctl.DecisionRequest{
		Device:     accessctl.DeviceRef{Platform: Platform, ID: st.cfg.SN},
		Credential: accessctl.Credential{Kind: accessctl.CredQRCode, Value: req.QRCode},
		Direction:  dir, At: time.Now(), Raw: raw,
	})
	if err != nil {
		e.refuse(w, CodeOther, "QR check failed: "+err.Error())
		return
	}
	e.recordDecision(r, st, raw, accessctl.MethodQRCode, req.QRCode, nil, dec)
	if !dec.Allow {
		e.refuse(w, CodeAuthFailed, dec.Result.Message)
		return
	}
	var uid string
	if dec.Person != nil {
		uid = dec.Person.ID
	}
	writeResp(w, CodeOK, MsgSuccess, UserIDData{UserID: uid})
}

func (e *Edge) handleFacePass(w http.ResponseWriter, r *http.Request) {
	st, req := formAuthed(e, w, r, DecodeFacePass, func(r *FacePassRequest) string { return r.Token })
	if st == nil {
		return
	}
	sim := req.Similarity
	raw := formRaw(map[string]string{"faceId": req.FaceID, "similarity": fmt.Sprint(req.Similarity),
		"temperature": req.Temperature, "photo": req.PhotoName})
	st.syncMu.Lock()
	name := st.names[req.FaceID]
	st.syncMu.Unlock()
	p := accessctl.PassEvent{
		Person: &accessctl.PersonRef{ID: req.FaceID}, PersonName: name, Method: accessctl.MethodFace,
		Kind: accessctl.PassGranted, Result: accessctl.Result{Granted: true}, Similarity: &sim,
	}
	if req.PhotoDropped != "" {
		// The door opened: keep the record, lose only the photo, and answer
		// success so the terminal does not resend it forever.
		p.SnapshotDropped = req.PhotoDropped
		e.snapsDropped.Add(1)
		e.o.log.Info("stdproto: pass kept, snapshot dropped", "sn", st.cfg.SN, "why", req.PhotoDropped)
	} else {
		p.Snapshot = &accessctl.Image{Data: req.Photo, MIME: accessctl.SniffImage(req.Photo)}
	}
	ev := e.passEvent(st, raw, p)
	e.deliverOrRefuse(w, r, ev, func(id string) any { return PhotoData{PhotoID: id} })
}

func (e *Edge) handleCardPass(m accessctl.Method) http.HandlerFunc {
	path := PathCardSync
	if m == accessctl.MethodBLECard {
		path = PathBLESync
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var req CardPassRequest
		st, raw := e.decodeAuthed(w, r, &req, func() string { return req.Token })
		if st == nil {
			return
		}
		p := accessctl.PassEvent{Method: m, Credential: req.CardID, Card: &accessctl.CardNo{Raw: req.CardID, Notation: accessctl.CardOpaque},
			Kind: accessctl.PassGranted, Result: accessctl.Result{Granted: true}}
		st.syncMu.Lock()
		if who, ok := st.owners[path+"|"+cardKey(req.CardID)]; ok {
			p.Person, p.PersonName = &accessctl.PersonRef{ID: who}, st.names[who]
		}
		st.syncMu.Unlock()
		e.deliverOrRefuse(w, r, e.passEvent(st, raw, p), nil)
	}
}

// intercomAuthed is decodeAuthed for the intercom questions, which need
// an IntercomHandler ("unsupported" without) and a bounded context.
func (e *Edge) intercomAuthed(w http.ResponseWriter, r *http.Request, v Validator, token func() string) (*terminalState, context.Context, context.CancelFunc) {
	st, _ := e.decodeAuthed(w, r, v, token)
	if st == nil {
		return nil, nil, nil
	}
	if e.o.intercom == nil {
		e.refuse(w, CodeOther, MsgUnsupported)
		return nil, nil, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), DefaultCallTimeout)
	return st, ctx, cancel
}

func (e *Edge) handleGroupID(w http.ResponseWriter, r *http.Request) {
	var req GroupIDRequest
	st, ctx, cancel := e.intercomAuthed(w, r, &req, func() string { return req.Token })
	if st == nil {
		return
	}
	defer cancel()
	gid, err := e.o.intercom.GroupID(ctx, st.cfg.SN, req.RoomID)
	if err != nil {
		e.fail(w, err)
		return
	}
	// groupId at the top level, as the source's example (C.B.23).
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		GroupID string `json:"groupId"`
	}{CodeOK, MsgSuccess, gid})
	_, _ = w.Write(b)
}

func (e *Edge) handleCheckPhone(w http.ResponseWriter, r *http.Request) {
	var req PhoneRequest
	st, ctx, cancel := e.intercomAuthed(w, r, &req, func() string { return req.Token })
	if st == nil {
		return
	}
	defer cancel()
	if err := e.o.intercom.CheckPhone(ctx, st.cfg.SN, req.PhoneNumber); err != nil {
		e.fail(w, err)
		return
	}
	writeResp(w, CodeOK, MsgSuccess, nil)
}

func (e *Edge) handleOpenDoorReport(w http.ResponseWriter, r *http.Request) {
	var req OpenDoorReport
	st, raw := e.decodeAuthed(w, r, &req, func() string { return req.Token })
	if st == nil {
		return
	}
	p := accessctl.PassEvent{Method: accessctl.MethodIntercom, Credential: req.Number,
		Kind: accessctl.PassGranted, Result: accessctl.Result{Granted: true}}
	e.deliverOrRefuse(w, r, e.passEvent(st, raw, p), nil)
}

func (e *Edge) handleRunState(w http.ResponseWriter, r *http.Request) {
	var req RunStateReport
	st, raw := e.decodeAuthed(w, r, &req, func() string { return req.Token })
	if st == nil {
		return
	}
	st.mu.Lock()
	st.states = append(st.states[:0], req.Data...)
	st.mu.Unlock()
	e.deliverOrRefuse(w, r, e.event(st, KindElevatorState, time.Now(), raw), nil)
}

func authMethod(t string) accessctl.Method {
	switch t {
	case AuthFace:
		return accessctl.MethodFace
	case AuthQRCode:
		return accessctl.MethodQRCode
	case AuthCard:
		return accessctl.MethodCard
	case AuthBluetooth:
		return accessctl.MethodBLECard
	}
	return accessctl.MethodUnknown
}

func (e *Edge) handleRuleReport(w http.ResponseWriter, r *http.Request) {
	var req RuleReport
	st, raw := e.decodeAuthed(w, r, &req, func() string { return req.Token })
	if st == nil {
		return
	}
	p := accessctl.PassEvent{Person: &accessctl.PersonRef{ID: req.UserID}, Method: authMethod(req.AuthType),
		Credential: req.AuthContent, Kind: accessctl.PassGranted, Result: accessctl.Result{Granted: true}}
	e.deliverOrRefuse(w, r, e.passEvent(st, raw, p), nil)
}
