// Package linkkittest is a simulated LinkKit multi-function door for host
// tests and demos: it connects with its triple, opens on remoteOpen, keeps
// the RSAPublicKey it is given, downloads and applies permission files,
// and posts passEvent when a credential is presented.
//
// Its permission store is deliberately small (an in-memory map applying
// add / delete / modify in order) and its decisions cover unknown,
// not-yet-valid, expired and used-up; it verifies no QR signature. The
// SDK's full device side is accessctl/permfile and qrcode.
//
//	door, _ := linkkittest.Dial(ctx, brokerURL, triple)
//	defer door.Close()
//	door.Present(ctx, "qrCode", "ALIF24DD9END8CD3")
package linkkittest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/transport/thingmodel"
)

// Record is one credential the door holds.
type Record struct {
	Type       string // qrCode, tradCard, bleCard, password
	Key        string
	Start, End int64 // epoch-ms; 0 = unbounded
	MaxScans   int   // -1 unlimited
	Scans      int
	UserID     string
}

// Door is the simulated door.
type Door struct {
	c      *thingmodel.DeviceClient
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	records map[string]*Record // type + "\x00" + key
	rsaKey  string
	syncs   int
	syncErr error

	opens atomic.Int64
	wg    sync.WaitGroup
	ready chan struct{} // closed once c is set: handlers may run before Dial returns
}

// Option configures Dial.
type Option func(*Door)

// WithClock sets the door's clock (tests of validity windows).
func WithClock(now func() time.Time) Option { return func(d *Door) { d.now = now } }

// Dial connects the simulated door to brokerURL with its triple.
func Dial(ctx context.Context, brokerURL string, t thingmodel.Triple, opts ...Option) (*Door, error) {
	d := &Door{records: map[string]*Record{}, now: time.Now, ready: make(chan struct{}),
		client: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return nil
		}}}
	for _, o := range opts {
		o(d)
	}
	c, err := thingmodel.Dial(ctx, brokerURL, t,
		thingmodel.WithService(linkkit.ServiceRemoteOpen, func(context.Context, *thingmodel.Request) (any, error) {
			d.opens.Add(1)
			return nil, nil
		}),
		thingmodel.WithService(linkkit.ServiceSyncPermissions, d.syncPermissions),
		thingmodel.WithPropertySet(d.setProperties))
	if err != nil {
		return nil, err
	}
	d.c = c
	close(d.ready)
	return d, nil
}

// Client returns the door's thing-model client.
func (d *Door) Client() *thingmodel.DeviceClient { return d.c }

// Close disconnects the door.
func (d *Door) Close() error {
	err := d.c.Close()
	d.wg.Wait()
	return err
}

// Opens counts remoteOpen invocations.
func (d *Door) Opens() int { return int(d.opens.Load()) }

// RSAPublicKey returns the key the host pushed.
func (d *Door) RSAPublicKey() string { d.mu.Lock(); defer d.mu.Unlock(); return d.rsaKey }

// Syncs counts applied permission files.
func (d *Door) Syncs() int { d.mu.Lock(); defer d.mu.Unlock(); return d.syncs }

// Lookup returns the record for a credential.
func (d *Door) Lookup(typ, key string) (Record, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.records[typ+"\x00"+key]
	if !ok {
		return Record{}, false
	}
	return *r, true
}

// Len is the number of records held.
func (d *Door) Len() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.records) }

func (d *Door) setProperties(ctx context.Context, req *thingmodel.Request) (any, error) {
	props, err := thingmodel.DecodeProperties(req.Params)
	if err != nil {
		return nil, err
	}
	p, ok := props[linkkit.PropertyRSAPublicKey]
	if !ok {
		return nil, nil
	}
	var key string
	if err := json.Unmarshal(p.Value, &key); err != nil || key == "" {
		return nil, &thingmodel.ReplyError{Code: thingmodel.CodeBadParams, Message: "RSAPublicKey must be a non-empty string"}
	}
	d.mu.Lock()
	d.rsaKey = key
	d.mu.Unlock()
	// Report the accepted value back, as spec §2.1 rule 6 asks. Not awaited
	// here: the host acknowledges it on its own.
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		select {
		case <-d.ready:
		case <-ctx.Done():
			return
		}
		_, _ = d.c.PostProperties(ctx, map[string]string{linkkit.PropertyRSAPublicKey: key})
	}()
	return nil, nil
}

type wireEntry struct {
	Type          json.Number `json:"type"`
	QRCode        string      `json:"qrCode"`
	CardID        string      `json:"cardId"`
	BLECardID     string      `json:"bleCardId"`
	Password      string      `json:"password"`
	StartTime     json.Number `json:"startTime"`
	EndTime       json.Number `json:"endTime"`
	EffectiveTime json.Number `json:"effectiveTime"`
	ExpiryTime    json.Number `json:"expiryTime"`
	MaxScanTimes  json.Number `json:"maxScanTimes"`
	UserID        string      `json:"userId"`
}

func (d *Door) syncPermissions(ctx context.Context, req *thingmodel.Request) (any, error) {
	var p struct {
		URL string `json:"permissionUrl"`
	}
	if err := json.Unmarshal(req.Params, &p); err != nil || p.URL == "" {
		return nil, &thingmodel.ReplyError{Code: thingmodel.CodeBadParams, Message: "permissionUrl missing"}
	}
	file, err := d.download(ctx, p.URL)
	if err != nil {
		d.mu.Lock()
		d.syncErr = err
		d.mu.Unlock()
		return nil, &thingmodel.ReplyError{Code: thingmodel.CodeInternal, Message: err.Error()}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range []struct {
		typ     string
		entries []wireEntry
	}{{linkkit.TypeQRCode, file.QR}, {linkkit.TypeTradCard, file.Card}, {linkkit.TypeBLECard, file.BLE}, {linkkit.TypePassword, file.Password}} {
		for _, e := range l.entries {
			d.applyLocked(l.typ, e)
		}
	}
	d.syncs++
	return nil, nil
}

type wireFile struct {
	QR       []wireEntry `json:"qrCodePermissionList"`
	Card     []wireEntry `json:"tradCardPermissionList"`
	BLE      []wireEntry `json:"bleCardPermissionList"`
	Password []wireEntry `json:"passwordPermissionList"`
}

func (d *Door) download(ctx context.Context, url string) (*wireFile, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("permission file: HTTP %d", resp.StatusCode)
	}
	const limit = 32 << 20
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if len(body) > limit {
		return nil, errors.New("permission file over 32 MiB")
	}
	var f wireFile
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, fmt.Errorf("permission file: %w", err)
	}
	return &f, nil
}

func num(n json.Number, def int64) int64 {
	if n == "" {
		return def
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return def
	}
	return v
}

// applyLocked applies one entry: 1 and 3 upsert (merging), 2 deletes.
func (d *Door) applyLocked(typ string, e wireEntry) {
	key := e.QRCode
	switch typ {
	case linkkit.TypeTradCard, linkkit.TypeBLECard:
		key = e.CardID
		if key == "" {
			key = e.BLECardID
		}
	case linkkit.TypePassword:
		key = e.Password
	}
	op := num(e.Type, 0)
	if key == "" || op < 1 || op > 3 {
		return
	}
	id := typ + "\x00" + key
	if op == 2 {
		delete(d.records, id)
		return
	}
	r, ok := d.records[id]
	if !ok {
		r = &Record{Type: typ, Key: key, MaxScans: -1}
		d.records[id] = r
	}
	start, end := e.StartTime, e.EndTime
	if typ != linkkit.TypeQRCode {
		start, end = e.EffectiveTime, e.ExpiryTime
	}
	r.Start, r.End = num(start, r.Start), num(end, r.End)
	r.MaxScans = int(num(e.MaxScanTimes, int64(r.MaxScans)))
	if e.UserID != "" {
		r.UserID = e.UserID
	}
}

// Decide returns the passEvent a presentation of a credential produces,
// and consumes a scan when it passes.
func (d *Door) Decide(typ, content string) linkkit.PassEvent {
	base := map[string]int{linkkit.TypeQRCode: 100, linkkit.TypeTradCard: 200, linkkit.TypeBLECard: 300, linkkit.TypePassword: 400}[typ]
	now := d.now().UnixMilli()
	d.mu.Lock()
	defer d.mu.Unlock()
	code := 0
	r, ok := d.records[typ+"\x00"+content]
	switch {
	case base == 0:
		code = linkkit.CodeUnknownError
	case !ok:
		code = base + 3
	case r.Start != 0 && now < r.Start:
		code = base + 1
	case r.End != 0 && now > r.End:
		code = base + 2
	case typ == linkkit.TypeQRCode && r.MaxScans >= 0 && r.Scans >= r.MaxScans:
		code = linkkit.CodeQRUsedUp
	}
	ext := map[string]any{"type": typ, "eventTime": strconv.FormatInt(now/1000, 10)}
	if typ == linkkit.TypeQRCode {
		ext["qrCode"] = content
	} else if typ != linkkit.TypePassword {
		ext["cardId"] = content
	}
	if ok && r.UserID != "" {
		ext["userID"] = r.UserID
	}
	if code == 0 {
		r.Scans++
		if typ == linkkit.TypeQRCode && r.MaxScans >= 0 {
			ext["remainScanTimes"] = r.MaxScans - r.Scans
		}
	}
	extJSON, _ := json.Marshal(ext)
	return linkkit.PassEvent{Code: code, Message: linkkit.ResultMessage(code), Type: typ, Content: content, ExtInfo: string(extJSON)}
}

// Present decides a credential and posts the passEvent, returning it.
func (d *Door) Present(ctx context.Context, typ, content string) (linkkit.PassEvent, error) {
	pe := d.Decide(typ, content)
	_, err := d.c.PostEvent(ctx, linkkit.EventPass, pe)
	return pe, err
}
