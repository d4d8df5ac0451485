package stdproto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/menjin/menjin/accessctl"
)

// Validator is implemented by every request type: the checks the spec makes
// beyond JSON types.
type Validator interface{ Validate() error }

// Validate implements Validator: a token-only request has nothing to check.
func (r *TokenRequest) Validate() error { return nil }

// Validate implements Validator for bare elevator requests.
func (h *ElevatorHeader) Validate() error { return nil }

// Decode decodes and validates a JSON request body of type T, liberally as
// the spec asks (D.1, D.2): numbers as strings and back, comments and
// trailing commas repaired. Every failure is an error matching
// ErrBadRequest, answered with code 5.
func Decode[T any, P interface {
	*T
	Validator
}](body []byte) (*T, error) {
	v, _, err := decode[T, P](body)
	return v, err
}

func decode[T any, P interface {
	*T
	Validator
}](body []byte) (*T, bool, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, false, badParam("empty body")
	}
	v := new(T)
	repaired, err := decodeObject(body, v)
	if err != nil {
		return nil, false, err
	}
	if err := P(v).Validate(); err != nil {
		return nil, repaired, err
	}
	return v, repaired, nil
}

// DecodeResponse decodes an answer envelope, repairing the source's broken
// examples (the trailing comma of rule/report, C.B.37).
func DecodeResponse(body []byte) (*Response, error) {
	var r Response
	if _, err := decodeJSON(body, &r); err != nil {
		return nil, errors.Join(ErrProtocol, err)
	}
	return &r, nil
}

// Multipart limits: text parts are short; the photo has its own limit.
const (
	maxTextPart = 4 << 10
	maxParts    = 32
)

// form is a decoded multipart body: text fields and one file.
type form struct {
	fields       map[string]string
	photo        []byte
	photoName    string
	photoDropped string // why a photo part was not kept (too large)
}

func readForm(contentType string, body io.Reader, maxPhoto int64) (*form, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, badParam("want multipart/form-data, got %.60q", contentType)
	}
	mr := multipart.NewReader(body, params["boundary"])
	f := &form{fields: map[string]string{}}
	for n := 0; ; n++ {
		if n >= maxParts {
			return nil, badParam("more than %d form parts", maxParts)
		}
		p, err := mr.NextPart()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return nil, tooLargeOr(err, "bad multipart body: %v", err)
		}
		name := p.FormName()
		if name == "photo" {
			data, err := io.ReadAll(io.LimitReader(p, maxPhoto+1))
			if err != nil {
				return nil, tooLargeOr(err, "reading photo: %v", err)
			}
			f.photo, f.photoName, f.photoDropped = data, p.FileName(), ""
			if int64(len(data)) > maxPhoto {
				// NextPart skips the rest, within the body limit; the
				// caller decides whether the request stands without it.
				f.photo, f.photoDropped = nil, fmt.Sprintf("photo larger than %d bytes", maxPhoto)
			}
			continue
		}
		data, err := io.ReadAll(io.LimitReader(p, maxTextPart+1))
		if err != nil {
			return nil, tooLargeOr(err, "reading %q: %v", name, err)
		}
		if len(data) > maxTextPart {
			return nil, badParam("form field %q too long", name)
		}
		// Fields are plain text; the source's listing quotes them.
		f.fields[name] = strings.Trim(strings.TrimSpace(string(data)), `"`)
	}
}

func tooLargeOr(err error, format string, args ...any) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return badParam("body larger than %d bytes", mbe.Limit)
	}
	return badParam(format, args...)
}

// DecodeRecognize decodes a /recognize form (B.7.1). The photo must be a
// JPEG or PNG (sniffed from its bytes, C.B.13) of at most maxPhoto bytes.
func DecodeRecognize(contentType string, body io.Reader, maxPhoto int64) (*RecognizeRequest, error) {
	f, err := readForm(contentType, body, maxPhoto)
	if err != nil {
		return nil, err
	}
	if f.photoDropped != "" {
		return nil, badParam("%s", f.photoDropped) // nothing to recognise
	}
	if err := checkPhoto(f.photo); err != nil {
		return nil, err
	}
	return &RecognizeRequest{
		Token:       f.fields["token"],
		Photo:       f.photo,
		PhotoName:   f.photoName,
		DetectFace:  f.fields["disableEdgeDetectFace"] == "1",
		Temperature: f.fields["temperature"],
	}, nil
}

// DecodeFacePass decodes a /faceAC/passEvent form (B.7.4). The terminal
// has already opened the door: a photo that is missing, not a JPEG or PNG
// or larger than maxPhoto does not refuse the report, it is dropped and
// PhotoDropped says why. A bad faceId or similarity is refused.
func DecodeFacePass(contentType string, body io.Reader, maxPhoto int64) (*FacePassRequest, error) {
	f, err := readForm(contentType, body, maxPhoto)
	if err != nil {
		return nil, err
	}
	r := &FacePassRequest{Token: f.fields["token"], FaceID: f.fields["faceId"], Photo: f.photo,
		PhotoName: f.photoName, Temperature: f.fields["temperature"]}
	if r.FaceID == "" || len(r.FaceID) > MaxFaceIDBytes {
		return nil, badParam("faceId missing or longer than %d bytes", MaxFaceIDBytes)
	}
	sim, err := strconv.ParseFloat(f.fields["similarity"], 64)
	if err != nil || sim < 0 || sim > 1 {
		return nil, badParam("similarity %.20q is not a decimal in [0,1]", f.fields["similarity"])
	}
	r.Similarity = sim
	if f.photoDropped != "" {
		r.PhotoDropped = f.photoDropped
	} else if why := photoProblem(f.photo); why != "" {
		r.Photo, r.PhotoDropped = nil, why
	}
	return r, nil
}

func checkPhoto(b []byte) error {
	if why := photoProblem(b); why != "" {
		return badParam("%s", why)
	}
	return nil
}

// photoProblem is what is wrong with a photo, "" when it is usable.
func photoProblem(b []byte) string {
	if len(b) == 0 {
		return "photo is required"
	}
	if accessctl.SniffImage(b) == "" {
		return "photo is not a JPEG or PNG"
	}
	return ""
}
