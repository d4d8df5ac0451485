package parking

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func seedDir(f *testing.F, glob string) {
	names, _ := filepath.Glob(filepath.Join("testdata", glob))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// mustBeTyped fails unless err is nil or a *FieldError.
func mustBeTyped(t *testing.T, err error) {
	t.Helper()
	var fe *FieldError
	if err != nil && !errors.As(err, &fe) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

func FuzzLedData(f *testing.F) {
	seedDir(f, "TV-LED-1*")
	for _, s := range []string{
		`{"Type": 7, "ScreenLineNum": 4, "ContextList": []}`,
		`{"Type": 0, "Situation": 9, "ScreenLineNum": 4, "ContextList": []}`,
		`{"Type": 0, "Situation": 0, "ScreenLineNum": 4}`,
		`{"Situation": 0, "ScreenLineNum": 4, "ContextList": []}`,
		`{"Type":"1","ShowTime":"-1","ContextList":[{"RunType":"9","ColorType":"0","CustomContext":"#p<br>#T","Audio":"1"}]}`,
		`"{\"Type\":0,\"ContextList\":[]}"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeLedData(b)
		mustBeTyped(t, err)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes (or is too long in bytes, which the
		// decoder measured in characters) and decodes to the same value.
		enc, err := d.Encode()
		if errors.Is(err, ErrTooLong) {
			return
		}
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", d, err)
		}
		back, err := DecodeLedData(enc)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc, err)
		}
		if d.ScreenLineNum == 0 {
			d.ScreenLineNum = DefaultScreenLines
		}
		if !ledEqual(d, back) {
			t.Fatalf("round trip changed %+v into %+v", d, back)
		}
	})
}

func ledEqual(a, b LedData) bool {
	if a.Type != b.Type || a.Situation != b.Situation || a.PlateNumber != b.PlateNumber || a.ShowTime != b.ShowTime ||
		a.AudioContextInfo != b.AudioContextInfo || a.ScreenLineNum != b.ScreenLineNum || len(a.ContextList) != len(b.ContextList) {
		return false
	}
	for i := range a.ContextList {
		if a.ContextList[i] != b.ContextList[i] {
			return false
		}
	}
	return true
}

func FuzzPermissionFile(f *testing.F) {
	seedDir(f, "TV-PERM-*")
	f.Add([]byte(`{"total":1,"permList":[{"type":1,"plateNumber":"京A1","effectiveDate":"2020-01-02 08:00:00","expiryDate":1577836800000,"permissionType":"2"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, err := ParsePermissionFile(bytes.NewReader(b), WithMaxFileBytes(1<<16))
		mustBeTyped(t, err)
		if err != nil {
			return
		}
		for _, s := range pf.Skipped {
			mustBeTyped(t, s.Err)
		}
		var set PermissionSet
		set.Apply(pf)
		enc, err := EncodePermissionFile(set.Export())
		if err != nil {
			t.Fatalf("export does not encode: %v", err)
		}
		back, err := ParsePermissionFile(bytes.NewReader(enc), Exported())
		if err != nil {
			t.Fatalf("export does not parse: %v\n%s", err, enc)
		}
		if len(back.Entries) != set.Len() {
			t.Fatalf("export of %d plates parsed as %d (skipped %v)", set.Len(), len(back.Entries), back.Skipped)
		}
	})
}

func FuzzDecodeService(f *testing.F) {
	ids := []string{ServiceNoticeBroadcast, ServiceNoticeDisplay, ServiceDefaultDisplay, ServiceAddLedData,
		ServiceQrCodeDisplay, ServiceTriggerRecognition, ServiceOperateGate, ServiceAddVehiclePermission,
		ServiceSendOssStsToken, ServiceGetVehiclePermission, ServiceGetPermissionDownloadProgress}
	for i, n := range []string{"TV-LED-2.json", "TV-LED-3.json", "TV-LED-4.json", "TV-LED-1s.json", "TV-LED-5.json", "TV-LED-6.json", "TV-GATE-1.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		id := ids[int(which)%len(ids)]
		s, err := DecodeService(id, b)
		mustBeTyped(t, err)
		if err != nil {
			return
		}
		args, err := s.Args()
		if errors.Is(err, ErrTooLong) {
			return // characters in, bytes out
		}
		if err != nil {
			t.Fatalf("%s decoded %+v does not encode: %v", id, s, err)
		}
		if _, err := DecodeService(id, args); err != nil {
			t.Fatalf("%s: re-decode of %s: %v", id, args, err)
		}
	})
}

func FuzzIntelligentAlarm(f *testing.F) {
	add, _ := os.ReadFile("testdata/TV-ALARM-1.json")
	f.Add([]byte(`{"type":10005,"format":0,"media":"/9j/4A==","addition_string":` + strings.TrimSpace(string(add)) + `}`))
	f.Add([]byte(`{"mediaUrl":"http://gw/a.jpg","addition_string":"{\"plateNumber\":\"京A1\",\"hasPlate\":\"1\"}"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeIntelligentAlarm(b)
		mustBeTyped(t, err)
		if err != nil {
			return
		}
		if _, err := a.Params(); err != nil && !errors.Is(err, ErrTooLong) {
			t.Fatalf("decoded alarm does not encode: %v", err)
		}
	})
}

func FuzzProperties(f *testing.F) {
	f.Add([]byte(`{"LedRowNumber":-4,"LedNoticeMode":"1","IsSurportQrCode":1,"GateState":{"value":2,"time":1},"VehicleState":2,"Volume":150}`))
	f.Add([]byte(`{"OpenType":99,"ImagePath":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProperties(b)
		mustBeTyped(t, err)
		if err == nil {
			enc, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeProperties(enc); err != nil {
				t.Fatalf("re-decode: %v", err)
			}
		}
		_, err = DecodeAbnormalOpenGate(b)
		mustBeTyped(t, err)
		_, err = DecodeOssStsTokenRequest(b)
		mustBeTyped(t, err)
	})
}
