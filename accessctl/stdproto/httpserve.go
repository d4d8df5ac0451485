package stdproto

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// Body limits (spec B.2, D.4).
const (
	DefaultMaxJSONBytes      = 8 << 20
	DefaultMaxMultipartBytes = 4 << 20
	DefaultMaxPhotoBytes     = 1 << 20
)

// writeResp writes an envelope with HTTP 200: errors travel in code (B.2).
func writeResp(w http.ResponseWriter, code int, msg string, data any) {
	if msg == "" && code == CodeOK {
		msg = MsgSuccess
	}
	body := struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{code, msg, data}
	b, err := json.Marshal(&body)
	if err != nil {
		b = []byte(`{"code":99,"message":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}

// writeErr answers err with its code: a CodeError's, 5 for a bad request,
// 99 otherwise.
func writeErr(w http.ResponseWriter, err error) {
	var ce *CodeError
	var pe *paramError
	switch {
	case errors.As(err, &ce):
		writeResp(w, ce.Code, ce.Message, nil)
	case errors.As(err, &pe):
		writeResp(w, CodeBadParam, pe.msg, nil)
	default:
		writeResp(w, CodeOther, err.Error(), nil)
	}
}

// readBody reads a JSON body up to limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, badParam("body larger than %d bytes", limit)
		}
		return nil, badParam("reading body: %v", err)
	}
	return b, nil
}

// post wraps h: POST only (405 otherwise).
func postOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h(w, r)
	}
}

// NewServer returns an http.Server for h as the protocol wants it: no
// persistent connections (B.2) and the deadlines of D.18.
func NewServer(addr string, h http.Handler) *http.Server {
	s := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	s.SetKeepAlivesEnabled(false)
	return s
}

// hostOnly is the host part of "host:port" (or the text as given).
func hostOnly(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
