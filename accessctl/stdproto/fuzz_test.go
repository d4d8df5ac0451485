package stdproto_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
)

// seeds adds the spec's vectors (and the repaired syncFaces) to f.
func seeds(f *testing.F, globs ...string) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"token":"t",}`))
	for _, g := range globs {
		files, _ := filepath.Glob(filepath.Join("testdata", "spec", g))
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			f.Add(bytes.ReplaceAll(b, []byte(",  ..."), nil))
		}
	}
}

// fuzzDecode checks a request decoder: no panic, and every failure is a
// typed bad request.
func fuzzDecode[T any, P interface {
	*T
	stdproto.Validator
}](f *testing.F, globs ...string) {
	seeds(f, globs...)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := stdproto.Decode[T, P](b)
		if err != nil {
			if !errors.Is(err, stdproto.ErrBadRequest) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if v == nil {
			t.Fatal("nil request without an error")
		}
	})
}

func FuzzDecodeConnect(f *testing.F) {
	seeds(f, "B.6.1_*_0.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := stdproto.Decode[stdproto.ConnectRequest](b)
		if err != nil {
			if !errors.Is(err, stdproto.ErrBadRequest) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if err := stdproto.VerifySign(r); err != nil && !errors.Is(err, stdproto.ErrBadSign) && !errors.Is(err, stdproto.ErrBadRequest) {
			t.Fatalf("VerifySign: untyped error %v", err)
		}
	})
}
func FuzzDecodeToken(f *testing.F) {
	fuzzDecode[stdproto.TokenRequest](f, "B.6.2_*", "B.6.3_*", "B.6.6_*_0.json")
}
func FuzzDecodeAlarm(f *testing.F) { fuzzDecode[stdproto.AlarmRequest](f, "B.6.4_*") }
func FuzzDecodeSetKeepOpen(f *testing.F) {
	fuzzDecode[stdproto.SetKeepOpenRequest](f, "B.6.5_*")
}
func FuzzDecodeSetTempRule(f *testing.F) {
	fuzzDecode[stdproto.SetTempRuleRequest](f, "B.6.7_*")
}
func FuzzDecodeSyncFaces(f *testing.F) { fuzzDecode[stdproto.SyncFacesRequest](f, "B.7.2_*") }
func FuzzDecodeQueryFaces(f *testing.F) {
	fuzzDecode[stdproto.QueryFacesRequest](f, "B.7.3_*_0.json")
}
func FuzzDecodeQRCode(f *testing.F) { fuzzDecode[stdproto.QRCodeRequest](f, "B.8.1_*_0.json") }
func FuzzDecodePermissions(f *testing.F) {
	fuzzDecode[stdproto.PermissionsRequest](f, "B.9.1_*", "B.9.3_*")
}
func FuzzDecodeCardPass(f *testing.F) { fuzzDecode[stdproto.CardPassRequest](f, "B.9.2_*", "B.9.4_*") }
func FuzzDecodeSipNumber(f *testing.F) {
	fuzzDecode[stdproto.SipNumberRequest](f, "B.10.1_*")
}
func FuzzDecodeGroupID(f *testing.F) { fuzzDecode[stdproto.GroupIDRequest](f, "B.10.2_*_0.json") }
func FuzzDecodePhone(f *testing.F)   { fuzzDecode[stdproto.PhoneRequest](f, "B.10.3_*") }
func FuzzDecodePhoneResult(f *testing.F) {
	fuzzDecode[stdproto.PhoneResultRequest](f, "B.10.4_*")
}
func FuzzDecodeOpenDoorReport(f *testing.F) {
	fuzzDecode[stdproto.OpenDoorReport](f, "B.10.5_*")
}
func FuzzDecodeRunStateReport(f *testing.F) {
	fuzzDecode[stdproto.RunStateReport](f, "B.11.1_*")
}
func FuzzDecodeGetRunState(f *testing.F) {
	fuzzDecode[stdproto.GetRunStateRequest](f, "B.11.2_*_0.json")
}
func FuzzDecodeReleaseFloors(f *testing.F) {
	fuzzDecode[stdproto.ReleaseFloorsRequest](f, "B.11.3_*")
}
func FuzzDecodeActivateFloor(f *testing.F) {
	fuzzDecode[stdproto.ActivateFloorRequest](f, "B.11.4_*")
}
func FuzzDecodeCall(f *testing.F) { fuzzDecode[stdproto.CallRequest](f, "B.11.5_*") }
func FuzzDecodeElevatorHeader(f *testing.F) {
	fuzzDecode[stdproto.ElevatorHeader](f, "B.11.6_*_0.json", "B.11.11_*_0.json")
}
func FuzzDecodeRuleSync(f *testing.F) { fuzzDecode[stdproto.RuleSyncRequest](f, "B.11.7_*_0.json") }
func FuzzDecodeRuleGet(f *testing.F)  { fuzzDecode[stdproto.RuleGetRequest](f, "B.11.8_*_0.json") }
func FuzzDecodeRuleReport(f *testing.F) {
	fuzzDecode[stdproto.RuleReport](f, "B.11.9_*_0.json")
}
func FuzzDecodeAvailability(f *testing.F) {
	fuzzDecode[stdproto.AvailabilityRequest](f, "B.11.10_*_0.json")
}

// FuzzDecodeResponse covers every answer the edge or a terminal decodes,
// with the data types a client reads.
func FuzzDecodeResponse(f *testing.F) {
	seeds(f, "*_1.json", "*_1.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := stdproto.DecodeResponse(b)
		if err != nil {
			if !errors.Is(err, stdproto.ErrProtocol) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, v := range []any{&stdproto.ConnectData{}, &stdproto.QueryFacesData{}, &stdproto.RecognizeData{},
			&stdproto.ElevatorInfo{}, &stdproto.RuleGetData{}, &[]stdproto.CarState{}, &stdproto.KeepOpen{}} {
			_ = unmarshalLenient(r.Data, v)
		}
	})
}

// fuzzForm fuzzes a multipart decoder with the fuzzer's bytes as the body.
func fuzzForm(f *testing.F, decode func(ct string, body []byte) error, fields [][2]string) {
	const boundary = "fuzzboundary"
	f.Add(formBody(boundary, fields, stdprototest.Photo("seed")[:64]))
	f.Add(formBody(boundary, fields, stdprototest.Photo("seed")))
	f.Add([]byte("--" + boundary + "--\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := decode("multipart/form-data; boundary="+boundary, b)
		if err != nil && !errors.Is(err, stdproto.ErrBadRequest) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzDecodeRecognize(f *testing.F) {
	fuzzForm(f, func(ct string, b []byte) error {
		_, err := stdproto.DecodeRecognize(ct, bytes.NewReader(b), 1<<16)
		return err
	}, [][2]string{{"token", exampleToken}, {"disableEdgeDetectFace", "1"}, {"temperature", "36.5"}})
}

// FuzzDecodeFacePass: a decoded pass has its identity and either a usable
// photo or the reason it was dropped, never both, never neither.
func FuzzDecodeFacePass(f *testing.F) {
	fields := [][2]string{{"token", exampleToken}, {"faceId", "ac4af1c2-31a7-4206-9c8d-2a69cdaac066"}, {"similarity", "0.78654"}, {"temperature", "36.5"}}
	const maxPhoto = 1 << 12
	for _, photo := range [][]byte{[]byte("GIF89a not ours"), bytes.Repeat([]byte{0xff}, 2*maxPhoto), append(stdprototest.Photo("big"), make([]byte, maxPhoto)...)} {
		f.Add(formBody("fuzzboundary", fields, photo))
	}
	f.Add(formBody("fuzzboundary", fields, nil))
	fuzzForm(f, func(ct string, b []byte) error {
		r, err := stdproto.DecodeFacePass(ct, bytes.NewReader(b), maxPhoto)
		if err != nil {
			return err
		}
		if r.FaceID == "" || len(r.FaceID) > stdproto.MaxFaceIDBytes || r.Similarity < 0 || r.Similarity > 1 {
			return fmt.Errorf("accepted a bad pass %+v", r) // untyped: fails the target
		}
		kept := r.Photo != nil && accessctl.SniffImage(r.Photo) != "" && len(r.Photo) <= maxPhoto
		if kept == (r.PhotoDropped != "") || (!kept && r.Photo != nil) {
			return fmt.Errorf("photo %d bytes kept=%v dropped=%q", len(r.Photo), kept, r.PhotoDropped)
		}
		return nil
	}, fields)
}

// formBody is a multipart body with fields and, unless nil, a photo.
func formBody(boundary string, fields [][2]string, photo []byte) []byte {
	var buf bytes.Buffer
	for _, kv := range fields {
		buf.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + kv[0] + "\"\r\n\r\n" + kv[1] + "\r\n")
	}
	if photo != nil {
		buf.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"xxx.jpg\"\r\n\r\n")
		buf.Write(photo)
		buf.WriteString("\r\n")
	}
	buf.WriteString("--" + boundary + "--\r\n")
	return buf.Bytes()
}
