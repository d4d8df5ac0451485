package hciot

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Upload errors. Every error Handle returns wraps one of them; auth and
// rejection errors are also marked accessctl.Permanent, so retrying
// middleware (accessctl.NewBuffer) gives up on them at once, while
// transient ones come back plain and are retried with backoff.
var (
	// ErrUploadAuth: HC's gateway refused the app id, the sign or the
	// request shape (鉴权失败 / 初始化失败, HTTP 400/401, a wrong URL).
	// Retrying cannot help: fix the configuration. The alert callback is
	// called.
	ErrUploadAuth = errors.New("hciot: HC refused the upload credentials or configuration")
	// ErrUploadRejected: HC answered with a business error (code != 0, such
	// as 设备不存在). Retrying the same record cannot help.
	ErrUploadRejected = errors.New("hciot: HC rejected the upload")
	// ErrUploadTransient: a transport error, HTTP 5xx or a non-JSON answer
	// from a proxy. Retry later.
	ErrUploadTransient = errors.New("hciot: HC upload failed for now")
)

// UploadError is HC's answer to an upload that did not succeed.
type UploadError struct {
	Kind   error  // ErrUploadAuth, ErrUploadRejected or ErrUploadTransient
	Op     string // openDoorLog, cmdResult, heartbeat
	Status int    // HTTP status, 0 when there was no answer
	Code   int    // HC body code, when the body was JSON
	Msg    string // HC's message or the start of a plain-text body
	Err    error  // the transport error, if any
}

func (e *UploadError) Error() string {
	s := fmt.Sprintf("%v: %s", e.Kind, e.Op)
	if e.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Code != 0 {
		s += fmt.Sprintf(" code %d", e.Code)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap gives both the kind and the transport error to errors.Is.
func (e *UploadError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// MachineLookup finds the HC machine of a device, for the extCommunityId
// HC needs with every record. *Server implements it.
type MachineLookup interface {
	Machine(code string) (Machine, bool)
}

// PersonLookup is implemented by a MachineLookup that also knows persons'
// names (*Server does, from its ledger): HC wants a userName with every
// record, and some terminals report only the id.
type PersonLookup interface {
	PersonName(userID string) (string, bool)
}

// UploaderOption configures an Uploader.
type UploaderOption func(*Uploader)

// WithOpenDoorURL enables pass-record uploads (HC spec_cd 3001001).
func WithOpenDoorURL(url string) UploaderOption { return func(u *Uploader) { u.openDoorURL = url } }

// WithCommandResultURL enables command-result uploads (HC spec_cd 3002001).
func WithCommandResultURL(url string) UploaderOption { return func(u *Uploader) { u.cmdURL = url } }

// WithHeartbeatURL enables heartbeat uploads (HC spec_cd 3005001).
func WithHeartbeatURL(url string) UploaderOption { return func(u *Uploader) { u.heartbeatURL = url } }

// WithHTTPClient sets the client (default: a client with a 15 s timeout).
func WithHTTPClient(c *http.Client) UploaderOption {
	return func(u *Uploader) {
		if c != nil {
			u.client = c
		}
	}
}

// WithMachines looks up the extCommunityId of each device (usually the
// Server that HC registered the machines with). Without it, or for a
// device it does not know, Event.Site.ID is used.
func WithMachines(m MachineLookup) UploaderOption { return func(u *Uploader) { u.machines = m } }

// WithAlert is called with every ErrUploadAuth error: the configuration is
// wrong and every upload will fail until someone fixes it.
func WithAlert(f func(error)) UploaderOption { return func(u *Uploader) { u.alert = f } }

// WithSimilarityScale sets how a 0–1 similarity is written in "similar":
// 100 (the default) writes a percent integer like HC's example "100", 1
// writes the fraction as newer HC docs describe.
func WithSimilarityScale(scale int) UploaderOption {
	return func(u *Uploader) {
		if scale == 1 || scale == 100 {
			u.simScale = scale
		}
	}
}

// WithPhotoRequired skips pass records without a snapshot, for HC versions
// (2021) that refuse a record with an empty photo. Skipped records are
// counted in Stats.
func WithPhotoRequired(required bool) UploaderOption {
	return func(u *Uploader) { u.photoRequired = required }
}

// WithUploaderLocation is the zone of HC's wall-clock times (default UTC+8).
func WithUploaderLocation(loc *time.Location) UploaderOption {
	return func(u *Uploader) {
		if loc != nil {
			u.loc = loc
		}
	}
}

// WithUploaderClock replaces time.Now for req-time and transaction ids.
func WithUploaderClock(now func() time.Time) UploaderOption {
	return func(u *Uploader) {
		if now != nil {
			u.now = now
		}
	}
}

// WithDedupSize sets how many uploaded event ids are remembered (default
// 4096): HC inserts a new row per openDoorLog call, so an event a driver
// redelivers (same Event.ID) must not be uploaded twice. 0 turns it off.
func WithDedupSize(n int) UploaderOption {
	return func(u *Uploader) {
		if n >= 0 {
			u.dedup = newRecent[struct{}](n)
		}
	}
}

// UploaderStats counts what an Uploader did.
type UploaderStats struct {
	Uploaded   uint64 // HC answered code 0
	Duplicates uint64 // events with an id already uploaded: not sent again
	Skipped    uint64 // accepted and not uploaded on purpose (no URL, no HC endpoint for the kind, no taskId, no photo, heartbeat of a machine HC did not register)
	Transient  uint64 // failed, to be retried
	Rejected   uint64 // HC answered code != 0
	AuthErrors uint64 // configuration errors (alerts)
	Resent     uint64 // ids a previous run began and died before recording (WithSentLog): uploaded again
}

// Uploader is an EventSink that uploads to HC (direction B, §1.4): pass
// records to 3001001, command results to 3002001, heartbeats (and devices
// coming online) to 3005001, each signed with HC's md5 sign. A kind whose
// URL is not configured is accepted and not uploaded, as HC's IoT does.
// Other kinds (alarms, offline, enrolments) have no HC endpoint and are
// accepted and counted as skipped.
//
// Put an accessctl.NewBuffer in front of it: Handle makes one attempt and
// classifies the outcome; the buffer retries the transient failures. HC
// inserts a row per call: give it WithSentLog (hciotbolt.SentLog) so an
// event redelivered after a restart is not uploaded again.
type Uploader struct {
	appID, securityCode string
	openDoorURL         string
	cmdURL              string
	heartbeatURL        string
	client              *http.Client
	machines            MachineLookup
	alert               func(error)
	simScale            int
	photoRequired       bool
	loc                 *time.Location
	now                 func() time.Time
	dedup               *recent[struct{}]
	sentLog             SentLog
	begun               *recent[struct{}] // ids this process began: Sending is our own failed try

	seq   atomic.Uint64
	stats struct{ uploaded, duplicates, skipped, transient, rejected, auth, resent atomic.Uint64 }
}

// NewUploader returns an Uploader signing with HC's app id (spec_cd 3003001)
// and security code (3004001).
func NewUploader(appID, securityCode string, opts ...UploaderOption) *Uploader {
	u := &Uploader{
		appID:        appID,
		securityCode: securityCode,
		client:       &http.Client{Timeout: 15 * time.Second},
		simScale:     100,
		loc:          time.FixedZone("CST", 8*3600),
		now:          time.Now,
		dedup:        newRecent[struct{}](4096),
		begun:        newRecent[struct{}](4096),
	}
	for _, o := range opts {
		o(u)
	}
	return u
}

// Stats returns a snapshot of the counters.
func (u *Uploader) Stats() UploaderStats {
	return UploaderStats{
		Uploaded:   u.stats.uploaded.Load(),
		Duplicates: u.stats.duplicates.Load(),
		Skipped:    u.stats.skipped.Load(),
		Transient:  u.stats.transient.Load(),
		Rejected:   u.stats.rejected.Load(),
		AuthErrors: u.stats.auth.Load(),
		Resent:     u.stats.resent.Load(),
	}
}

const hcTime = "2006-01-02 15:04:05"

// Handle implements accessctl.EventSink.
func (u *Uploader) Handle(ctx context.Context, e accessctl.Event) error {
	var (
		op, url string
		body    map[string]any
		err     error
	)
	switch e.Kind {
	case accessctl.KindPass:
		op, url = "openDoorLog", u.openDoorURL
		if url != "" {
			body, err = u.passBody(e)
		}
	case accessctl.KindCommandResult:
		op, url = "cmdResult", u.cmdURL
		if url != "" {
			body = u.resultBody(e)
		}
	case accessctl.KindHeartbeat, accessctl.KindOnline:
		op, url = "heartbeat", u.heartbeatURL
		if url != "" {
			body, err = u.heartbeatBody(e)
		}
	}
	if err != nil {
		u.stats.rejected.Add(1)
		return accessctl.Permanent(err)
	}
	if url == "" || body == nil {
		u.stats.skipped.Add(1)
		return nil
	}
	if _, dup := u.dedup.get(e.ID); dup && e.ID != "" {
		u.stats.duplicates.Add(1)
		return nil
	}
	payload, err := marshalBody(body)
	if err != nil {
		u.stats.rejected.Add(1)
		return accessctl.Permanent(fmt.Errorf("hciot: %s: %w", op, err))
	}
	durable := u.sentLog != nil && e.ID != ""
	if durable {
		st, err := u.sentLog.State(ctx, e.ID)
		if err != nil {
			return fmt.Errorf("hciot: %s: sent log: %w", op, err)
		}
		switch st {
		case Sent:
			u.dedup.put(e.ID, struct{}{})
			u.stats.duplicates.Add(1)
			return nil
		case Sending:
			if _, ours := u.begun.get(e.ID); !ours {
				u.stats.resent.Add(1)
			}
		}
		u.begun.put(e.ID, struct{}{})
		if err := u.sentLog.Begin(ctx, e.ID); err != nil {
			return fmt.Errorf("hciot: %s: sent log: %w", op, err)
		}
	}
	if err := u.post(ctx, op, url, payload); err != nil {
		return err
	}
	if e.ID != "" {
		u.dedup.put(e.ID, struct{}{})
	}
	if durable {
		// HC has the row: failing here would re-upload it, so a Done that
		// does not persist only leaves the id Sending (see WithSentLog).
		_ = u.sentLog.Done(ctx, e.ID)
	}
	return nil
}

// marshalBody writes keys in alphabetical order (as HC's fastjson does) and
// leaves <, > and & unescaped; the sign covers these exact bytes.
func marshalBody(body map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// community returns the HC community of the event's device.
func (u *Uploader) community(e accessctl.Event) string {
	if u.machines != nil {
		if m, ok := u.machines.Machine(e.Device.ID); ok && m.Community != "" {
			return m.Community
		}
	}
	return e.Site.ID
}

const unknownPerson = "陌生人"

func (u *Uploader) passBody(e accessctl.Event) (map[string]any, error) {
	p := e.Pass
	if p == nil {
		return nil, fmt.Errorf("%w: pass event %s without a pass", accessctl.ErrInvalid, e.ID)
	}
	community := u.community(e)
	if community == "" || e.Device.ID == "" {
		return nil, fmt.Errorf("%w: pass event %s: device %q has no HC community (not registered by addMachine?)", accessctl.ErrInvalid, e.ID, e.Device.ID)
	}
	if u.photoRequired && (p.Snapshot == nil || len(p.Snapshot.Data) == 0) {
		return nil, nil
	}
	userID, name := "-1", unknownPerson // §5 item 5: HC wants -1 and a name
	if p.Person != nil && p.Person.ID != "" {
		userID, name = p.Person.ID, p.PersonName
		if pl, ok := u.machines.(PersonLookup); ok && name == "" {
			name, _ = pl.PersonName(userID)
		}
		if name == "" {
			name = p.Person.ID
		}
	}
	openType := "2000" // HC knows face (1000) and key (2000) only
	if p.Method == accessctl.MethodFace {
		openType = "1000"
	}
	record := "8888"
	if p.Kind == accessctl.PassVisitorSnapshot || p.Kind == accessctl.PassDenied {
		record = "6666"
	}
	similar := "0"
	if p.Similarity != nil {
		if u.simScale == 100 {
			similar = strconv.Itoa(int(math.Round(*p.Similarity * 100)))
		} else {
			similar = strconv.FormatFloat(*p.Similarity, 'f', -1, 64)
		}
	}
	photo := ""
	if p.Snapshot != nil && len(p.Snapshot.Data) > 0 {
		photo = base64.StdEncoding.EncodeToString(p.Snapshot.Data)
	}
	at := e.OccurredAt
	if at.IsZero() {
		at = e.ReceivedAt
	}
	body := map[string]any{
		"userId":         userID,
		"userName":       name,
		"machineCode":    e.Device.ID,
		"openTypeCd":     openType,
		"similar":        similar,
		"photo":          photo,
		"dateTime":       at.In(u.loc).Format(hcTime),
		"extCommunityId": community,
		"recordTypeCd":   record,
	}
	if p.IDNumber != "" {
		body["idNumber"] = p.IDNumber
	}
	if p.Phone != "" {
		body["tel"] = p.Phone
	}
	return body, nil
}

func (u *Uploader) resultBody(e accessctl.Event) map[string]any {
	r := e.Command
	if r == nil || r.CorrelationID == "" {
		return nil // HC matches results by taskId; without one there is nothing to match
	}
	code := 0
	if !r.OK {
		code = -1
		if n, err := strconv.Atoi(r.Code); err == nil && n != 0 {
			code = n
		}
	}
	msg := r.Message
	if msg == "" {
		msg = map[bool]string{true: msgOK, false: "失败"}[r.OK]
	}
	body := map[string]any{"taskId": r.CorrelationID, "code": code, "msg": msg}
	if e.Device.ID != "" {
		body["machineCode"] = e.Device.ID
	}
	return body
}

func (u *Uploader) heartbeatBody(e accessctl.Event) (map[string]any, error) {
	community := u.community(e)
	if community == "" || e.Device.ID == "" {
		return nil, nil // a terminal HC has not registered (yet): nothing to tell HC
	}
	at := e.ReceivedAt // HC ignores heartbeatTime; our clock is the better one anyway
	if at.IsZero() {
		at = u.now()
	}
	return map[string]any{
		"taskId":         u.transactionID(u.now()),
		"machineCode":    e.Device.ID,
		"heartbeatTime":  at.In(u.loc).Format(hcTime),
		"extCommunityId": community,
	}, nil
}

// transactionID is seed 003's format: 1000000000, compact time, 6-digit
// sequence.
func (u *Uploader) transactionID(now time.Time) string {
	return fmt.Sprintf("1000000000%s%06d", now.In(u.loc).Format("20060102150405"), u.seq.Add(1)%1_000_000)
}

func (u *Uploader) post(ctx context.Context, op, url string, payload []byte) error {
	now := u.now()
	h := Headers{
		AppID:         u.appID,
		TransactionID: u.transactionID(now),
		ReqTime:       now.In(u.loc).Format("20060102150405"),
		UserID:        "-1",
	}
	h.Sign = Sign(h.TransactionID, h.ReqTime, h.AppID, payload, u.securityCode)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return u.fail(&UploadError{Kind: ErrUploadAuth, Op: op, Msg: "bad upload URL", Err: err})
	}
	req.Header.Set("Content-Type", "application/json")
	h.Set(req.Header)
	resp, err := u.client.Do(req)
	if err != nil {
		return u.fail(&UploadError{Kind: ErrUploadTransient, Op: op, Err: err})
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return u.fail(&UploadError{Kind: ErrUploadTransient, Op: op, Status: resp.StatusCode, Err: err})
	}
	if ue := classify(op, resp.StatusCode, body); ue != nil {
		return u.fail(ue)
	}
	u.stats.uploaded.Add(1)
	return nil
}

func (u *Uploader) fail(ue *UploadError) error {
	switch ue.Kind {
	case ErrUploadAuth:
		u.stats.auth.Add(1)
		if u.alert != nil {
			u.alert(ue)
		}
		return accessctl.Permanent(ue)
	case ErrUploadRejected:
		u.stats.rejected.Add(1)
		return accessctl.Permanent(ue)
	}
	u.stats.transient.Add(1)
	return ue
}

// authFailure reports HC's gateway refusals: 2021 answers plain text, 2025
// JSON with code 404, both starting with these words.
func authFailure(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "鉴权失败") || strings.HasPrefix(s, "初始化失败")
}

// classify turns HC's answer into nil (success: HTTP 2xx and body code 0)
// or an UploadError of the right kind (§1.4, §6).
func classify(op string, status int, body []byte) *UploadError {
	text := strings.TrimSpace(string(body))
	short := text
	if len(short) > 200 {
		short = short[:200]
	}
	switch {
	case authFailure(text), status == http.StatusBadRequest, status == http.StatusUnauthorized,
		status == http.StatusForbidden, status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		return &UploadError{Kind: ErrUploadAuth, Op: op, Status: status, Msg: short}
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return &UploadError{Kind: ErrUploadTransient, Op: op, Status: status, Msg: short}
	case status < 200 || status >= 300:
		return &UploadError{Kind: ErrUploadRejected, Op: op, Status: status, Msg: short}
	}
	var env struct {
		Code *json.Number `json:"code"`
		Msg  string       `json:"msg"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Code == nil {
		// An HTML page from a proxy, or a truncated answer: try again later.
		return &UploadError{Kind: ErrUploadTransient, Op: op, Status: status, Msg: "answer is not HC JSON: " + short}
	}
	code, err := env.Code.Int64()
	if err != nil {
		return &UploadError{Kind: ErrUploadTransient, Op: op, Status: status, Msg: "answer code is not an integer: " + short}
	}
	if authFailure(env.Msg) {
		return &UploadError{Kind: ErrUploadAuth, Op: op, Status: status, Code: int(code), Msg: env.Msg}
	}
	if code != 0 {
		return &UploadError{Kind: ErrUploadRejected, Op: op, Status: status, Code: int(code), Msg: env.Msg}
	}
	return nil
}
