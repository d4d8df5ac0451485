package parking

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// LedLine is one element of LedData.ContextList: one screen line.
type LedLine struct {
	RunType       RunType // unknown values decode as Static
	ColorType     Color   // unknown values decode as Green
	CustomContext string  // 0–128 characters, wildcards #T #t #p allowed
	Audio         bool    // also speak this line
}

// LedData is the mixed-mode screen content of AddLedData (§3.3). Decode it
// with DecodeLedData, produce it with Encode or AddLedDataArgs.
type LedData struct {
	Type             ContentType
	Situation        Situation // meaningful only for FixedScene
	PlateNumber      string    // only in the source's example; used for #p when set
	ShowTime         int       // seconds; decoding applies the default 10
	AudioContextInfo string
	// ScreenLineNum is the number of lines the content is laid out for. 0
	// means "not given": renderers use the screen's rows, else 4 (§10 G7).
	ScreenLineNum int
	ContextList   []LedLine // empty: blank the screen (§11 item 8)
}

type wireLedLine struct {
	RunType       int    `json:"RunType"`
	ColorType     int    `json:"ColorType"`
	CustomContext string `json:"CustomContext"`
	Audio         int    `json:"Audio"`
}

type wireLedData struct {
	Type             int           `json:"Type"`
	Situation        int           `json:"Situation"`
	PlateNumber      string        `json:"PlateNumber"` // as in the source example
	ShowTime         int           `json:"ShowTime"`
	AudioContextInfo string        `json:"AudioContextInfo"`
	ScreenLineNum    int           `json:"ScreenLineNum"`
	ContextList      []wireLedLine `json:"ContextList"`
}

// the cloud REST body of /parking/paas/led/content/download (§3.3).
type restLedLine struct {
	RunType       int    `json:"runType"`
	ColorType     int    `json:"colorType"`
	CustomContext string `json:"customContext"`
	Audio         int    `json:"audio"`
}

type restLedData struct {
	IotID            string        `json:"iotId"`
	Type             int           `json:"type"`
	Situation        int           `json:"situation"`
	ShowTime         int           `json:"showTime"`
	AudioContextInfo string        `json:"audioContextInfo"`
	ScreenLineNum    int           `json:"screenLineNum"`
	ContextList      []restLedLine `json:"contextList"`
}

const ledPayload = "LedData"

// Validate checks d as a producer must before sending (§11 item 3): a
// documented Type, a documented Situation for fixed scenes, at most 128
// characters per line, at most 100 lines. The 2048-byte limit of the
// whole is checked by Encode.
func (d LedData) Validate() error {
	if !d.Type.Valid() {
		return fieldErr(ledPayload, "Type", ErrUnknownValue, "%d", d.Type)
	}
	if d.Type == FixedScene && !d.Situation.Valid() {
		return fieldErr(ledPayload, "Situation", ErrUnknownValue, "%d", d.Situation)
	}
	if d.ScreenLineNum < 0 || d.ScreenLineNum > MaxRows {
		return fieldErr(ledPayload, "ScreenLineNum", ErrOutOfRange, "%d not in 0..%d", d.ScreenLineNum, MaxRows)
	}
	if len(d.ContextList) > MaxRows {
		return fieldErr(ledPayload, "ContextList", ErrTooLong, "%d lines, at most %d", len(d.ContextList), MaxRows)
	}
	for i, l := range d.ContextList {
		if n := utf8.RuneCountInString(l.CustomContext); n > MaxCustomContextLen {
			return fieldErr(ledPayload, fmt.Sprintf("ContextList[%d].CustomContext", i), ErrTooLong,
				"%d characters, at most %d", n, MaxCustomContextLen)
		}
	}
	return nil
}

func (d LedData) wire() wireLedData {
	w := wireLedData{
		Type: int(d.Type), PlateNumber: d.PlateNumber, ShowTime: d.ShowTime,
		AudioContextInfo: d.AudioContextInfo, ScreenLineNum: d.ScreenLineNum,
		ContextList: make([]wireLedLine, len(d.ContextList)),
	}
	if d.Type == FixedScene {
		w.Situation = int(d.Situation)
	}
	if w.ShowTime <= 0 {
		w.ShowTime = DefaultShowTime
	}
	if w.ShowTime > MaxDisplayTime {
		w.ShowTime = MaxDisplayTime
	}
	if w.ScreenLineNum == 0 {
		w.ScreenLineNum = DefaultScreenLines
	}
	for i, l := range d.ContextList {
		w.ContextList[i] = wireLedLine{
			RunType: int(l.RunType.Normalize()), ColorType: int(l.ColorType.Normalize()),
			CustomContext: l.CustomContext, Audio: b2i(l.Audio),
		}
	}
	return w
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Encode validates d and serialises it as the device expects: UpperCamel
// keys, numbers as numbers, defaults filled in, unknown run types and
// colours normalised. More than MaxLedDataLen bytes is ErrTooLong: nothing
// is truncated here (the display renderer has a truncation policy).
func (d LedData) Encode() ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	b, err := marshalNoEscape(d.wire())
	if err != nil {
		return nil, err
	}
	if len(b) > MaxLedDataLen {
		return nil, fieldErr(ledPayload, "", ErrTooLong, "%d bytes, at most %d", len(b), MaxLedDataLen)
	}
	return b, nil
}

// MarshalJSON is Encode.
func (d LedData) MarshalJSON() ([]byte, error) { return d.Encode() }

// UnmarshalJSON is DecodeLedData: it accepts an object or a JSON string
// holding one.
func (d *LedData) UnmarshalJSON(b []byte) error {
	v, err := DecodeLedData(b)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// AddLedDataArgs returns the params of an AddLedData invoke, with LedData
// carried as a JSON string (§10 G4).
func AddLedDataArgs(d LedData) (json.RawMessage, error) {
	b, err := d.Encode()
	if err != nil {
		return nil, err
	}
	return marshalNoEscape(map[string]string{ParamLedData: string(b)})
}

// EncodeLedDataREST returns the cloud REST body of
// /parking/paas/led/content/download (lowerCamel keys plus iotId).
func EncodeLedDataREST(iotID string, d LedData) ([]byte, error) {
	if _, err := d.Encode(); err != nil {
		return nil, err
	}
	w := d.wire()
	r := restLedData{
		IotID: iotID, Type: w.Type, Situation: w.Situation, ShowTime: w.ShowTime,
		AudioContextInfo: w.AudioContextInfo, ScreenLineNum: w.ScreenLineNum,
		ContextList: make([]restLedLine, len(w.ContextList)),
	}
	for i, l := range w.ContextList {
		r.ContextList[i] = restLedLine(l)
	}
	return marshalNoEscape(r)
}

// DecodeLedData parses LedData as a device receives it (§3.3, §11):
//   - an object, or a JSON string whose content is the object (§10 G4);
//   - keys in any case (UpperCamel from the cloud's device API, lowerCamel
//     from its REST API), unknown keys ignored;
//   - numbers or numeric strings;
//   - Type and ContextList required; ShowTime ≤ 0 or absent → 10, above
//     3600 → 3600; unknown RunType → static; unknown ColorType → green;
//   - at most 2048 characters and 128 characters per line.
//
// Errors are *FieldError matching ErrSyntax, ErrMissing, ErrTooLong,
// ErrOutOfRange, ErrUnknownValue or ErrBadType. A device answers any of
// them with Result 1 (LedResultOf).
func DecodeLedData(b []byte) (LedData, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		if utf8.RuneCount(b) > 2*MaxLedDataLen+2 { // escapes at most double it
			return LedData{}, fieldErr(ledPayload, "", ErrTooLong, "string of %d bytes", len(b))
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return LedData{}, fieldErr(ledPayload, "", ErrSyntax, "%v", err)
		}
		b = bytes.TrimSpace([]byte(s))
		if len(b) > 0 && b[0] == '"' {
			return LedData{}, fieldErr(ledPayload, "", ErrBadType, "a string inside a string")
		}
	}
	// Liberal when consuming: characters, not bytes (§10 G9).
	if n := utf8.RuneCount(b); n > MaxLedDataLen {
		return LedData{}, fieldErr(ledPayload, "", ErrTooLong, "%d characters, at most %d", n, MaxLedDataLen)
	}
	o, err := parseObject(ledPayload, b)
	if err != nil {
		return LedData{}, err
	}
	var d LedData
	t, err := o.requiredInt("Type")
	if err != nil {
		return LedData{}, err
	}
	d.Type = ContentType(t)
	if !d.Type.Valid() {
		return LedData{}, o.err("Type", ErrUnknownValue, "%d", t)
	}
	sit, _, err := o.int("Situation")
	if err != nil {
		return LedData{}, err
	}
	if d.Type == FixedScene {
		d.Situation = Situation(sit)
		if !d.Situation.Valid() {
			return LedData{}, o.err("Situation", ErrUnknownValue, "%d", sit)
		}
	} // a Situation with another Type is ignored (§11 item 5)
	if d.PlateNumber, _, err = o.str("PlateNumber"); err != nil {
		return LedData{}, err
	}
	show, _, err := o.int("ShowTime")
	if err != nil {
		return LedData{}, err
	}
	d.ShowTime = clampDuration(show, DefaultShowTime)
	if d.AudioContextInfo, _, err = o.str("AudioContextInfo"); err != nil {
		return LedData{}, err
	}
	if d.ScreenLineNum, _, err = o.int("ScreenLineNum"); err != nil {
		return LedData{}, err
	}
	if d.ScreenLineNum < 0 || d.ScreenLineNum > MaxRows {
		return LedData{}, o.err("ScreenLineNum", ErrOutOfRange, "%d not in 0..%d", d.ScreenLineNum, MaxRows)
	}
	raw, ok := o.get("ContextList")
	if !ok {
		return LedData{}, o.err("ContextList", ErrMissing, "required")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return LedData{}, o.err("ContextList", ErrBadType, "want an array")
	}
	if len(items) > MaxRows {
		return LedData{}, o.err("ContextList", ErrTooLong, "%d lines, at most %d", len(items), MaxRows)
	}
	d.ContextList = make([]LedLine, 0, len(items))
	for i, it := range items {
		name := fmt.Sprintf("ContextList[%d]", i)
		lo, err := parseObject(ledPayload+" "+name, it)
		if err != nil {
			return LedData{}, err
		}
		var l LedLine
		rt, _, err := lo.int("RunType")
		if err != nil {
			return LedData{}, err
		}
		l.RunType = RunType(rt).Normalize()
		ct, _, err := lo.int("ColorType")
		if err != nil {
			return LedData{}, err
		}
		l.ColorType = Color(ct).Normalize()
		if l.CustomContext, err = lo.requiredStr("CustomContext"); err != nil {
			return LedData{}, err
		}
		if n := utf8.RuneCountInString(l.CustomContext); n > MaxCustomContextLen {
			return LedData{}, lo.err("CustomContext", ErrTooLong, "%d characters, at most %d", n, MaxCustomContextLen)
		}
		audio, _, err := lo.int("Audio")
		if err != nil {
			return LedData{}, err
		}
		l.Audio = audio != 0
		d.ContextList = append(d.ContextList, l)
	}
	return d, nil
}

// DecodeAddLedDataArgs parses the params of an AddLedData invoke.
func DecodeAddLedDataArgs(params []byte) (LedData, error) {
	o, err := parseObject(ServiceAddLedData, params)
	if err != nil {
		return LedData{}, err
	}
	raw, ok := o.get(ParamLedData)
	if !ok {
		return LedData{}, o.err(ParamLedData, ErrMissing, "required")
	}
	return DecodeLedData(raw)
}

// LedResultOf is the AddLedData Result a device answers for a decode error.
func LedResultOf(err error) LedParseResult {
	if err != nil {
		return LedParseFailed
	}
	return LedParsedOK
}

// clampDuration applies §11 item 11: ≤ 0 → def, above 3600 → 3600.
func clampDuration(v, def int) int {
	switch {
	case v <= 0:
		return def
	case v > MaxDisplayTime:
		return MaxDisplayTime
	}
	return v
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// marshalNoEscape is json.Marshal without HTML escaping: devices compare
// and count the text as sent, and "<br>" must stay "<br>".
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
