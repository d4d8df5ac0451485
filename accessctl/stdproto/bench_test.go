package stdproto_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
)

// countSink accepts every event.
type countSink struct{ n atomic.Int64 }

func (s *countSink) Handle(context.Context, accessctl.Event) error { s.n.Add(1); return nil }

// rawPassHandler is the baseline: a bare net/http handler doing the same
// JSON work for /cardAC/passEvent — bounded read, decode, token lookup,
// build the event, hand it to the sink, answer.
func rawPassHandler(sink accessctl.EventSink, tokens map[string]string) http.HandlerFunc {
	var mu sync.RWMutex
	var seq atomic.Uint64
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
		if err != nil {
			return
		}
		var req struct {
			Token  string `json:"token"`
			CardID string `json:"cardId"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			_, _ = w.Write([]byte(`{"code":5,"message":"bad"}`))
			return
		}
		mu.RLock()
		sn, ok := tokens[req.Token]
		mu.RUnlock()
		if !ok {
			_, _ = w.Write([]byte(`{"code":4,"message":"device is offline"}`))
			return
		}
		now := time.Now()
		e := accessctl.Event{ID: sn + "-" + strconv.FormatUint(seq.Add(1), 36), Kind: accessctl.KindPass,
			Device: accessctl.DeviceRef{ID: sn}, OccurredAt: now, ReceivedAt: now, Raw: body,
			Pass: &accessctl.PassEvent{Method: accessctl.MethodCard, Credential: req.CardID, Kind: accessctl.PassGranted}}
		if err := sink.Handle(r.Context(), e); err != nil {
			_, _ = w.Write([]byte(`{"code":99,"message":"sink"}`))
			return
		}
		out, _ := json.Marshal(struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}{0, "success"})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}

// BenchmarkPassEventIngest compares the edge's /cardAC/passEvent with the
// bare handler, in process (handler cost) and over loopback TCP with
// Connection: close as the protocol wants (end to end).
func BenchmarkPassEventIngest(b *testing.B) {
	sink := &countSink{}
	edge := stdproto.NewEdge(stdproto.WithSink(sink), stdproto.WithFaceResync(false),
		stdproto.WithTokenGenerator(func(string, string) string { return exampleToken }),
		stdproto.WithOnError(func(string, error) {}))
	defer edge.Close()
	// The terminal's callback address is never dialled successfully here;
	// the link loop backs off in the background.
	_ = edge.Provision(stdproto.TerminalConfig{SN: "123456789", IP: "192.168.1.128", Addr: "127.0.0.1:1"})
	rec := httptest.NewRecorder()
	edge.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/connect", bytes.NewReader(vec(b, "B.6.1_connect_0.json"))))
	if !bytes.Contains(rec.Body.Bytes(), []byte(exampleToken)) {
		b.Fatalf("connect: %s", rec.Body)
	}
	raw := rawPassHandler(sink, map[string]string{exampleToken: "123456789"})
	body := vec(b, "B.9.2_*_0.json")
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"stdproto", edge}, {"raw", raw}} {
		b.Run("inprocess/"+h.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodPost, "/cardAC/passEvent", bytes.NewReader(body))
				rec := httptest.NewRecorder()
				h.h.ServeHTTP(rec, req)
				if i == 0 && !bytes.Contains(rec.Body.Bytes(), []byte(`"code":0`)) {
					b.Fatalf("answer %s", rec.Body)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"stdproto", edge}, {"raw", raw}} {
		b.Run("loopback/"+h.name, func(b *testing.B) {
			srv := httptest.NewServer(h.h)
			defer srv.Close()
			hc := stdproto.NewHTTPClient()
			url := srv.URL + "/cardAC/passEvent"
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Close = true
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if i == 0 && !bytes.Contains(out, []byte(`"code":0`)) {
					b.Fatalf("answer %s", out)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// rawFace mirrors a syncFaces entry for the baseline.
type rawFace struct {
	Type       int       `json:"type"`
	FaceID     string    `json:"faceId,omitempty"`
	Feature    []float64 `json:"feature,omitempty"`
	FeatureMd5 string    `json:"featureMd5,omitempty"`
	UserInfo   *struct {
		UserID        string `json:"userId,omitempty"`
		UserName      string `json:"userName,omitempty"`
		ExpiryTime    string `json:"expiryTime,omitempty"`
		IsInBlackList bool   `json:"isInBlackList"`
	} `json:"userInfo,omitempty"`
	UserInfoMd5 string `json:"userInfoMd5,omitempty"`
}

func benchFaces(n, dim int) []stdproto.FaceOp {
	ops := make([]stdproto.FaceOp, n)
	for i := range ops {
		f := make([]float64, dim)
		for j := range f {
			f[j] = float64(i*dim+j) / 1e4
		}
		ops[i] = stdproto.FaceOp{Type: stdproto.FaceAdd, FaceID: fmt.Sprintf("452f3570-4717-4a39-910b-d725425%05d", i), Feature: f,
			FeatureMd5: "4be6f1e4bda138a555416b866a90530c", UserInfoMd5: "25984f381c98bfc842280b528f424701",
			UserInfo: &stdproto.UserInfo{UserID: strconv.Itoa(i), UserName: "张三", ExpiryTime: "1599892792000"}}
	}
	return ops
}

// BenchmarkSyncFacesPush: one full syncFaces call (50 faces × 512 floats)
// from the edge to a terminal over loopback, against a bare http.Client
// posting the same JSON to a bare handler that decodes it.
func BenchmarkSyncFacesPush(b *testing.B) {
	ops := benchFaces(stdproto.MaxFacesPerSync, 512)
	b.Run("stdproto", func(b *testing.B) {
		srv := httptest.NewServer(stdproto.NewTerminalHandler(stdprototest.NewMemory()))
		defer srv.Close()
		c := stdproto.NewClient(srv.Listener.Addr().String(), stdproto.Identity{SN: "edge-bench", IP: "127.0.0.1"}, nil)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.SyncFaces(ctx, ops); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(ops))/b.Elapsed().Seconds(), "faces/s")
	})
	b.Run("raw", func(b *testing.B) {
		var store sync.Map
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
			var req struct {
				Token string    `json:"token"`
				Faces []rawFace `json:"faces"`
			}
			if err := json.Unmarshal(body, &req); err != nil {
				_, _ = w.Write([]byte(`{"code":5,"message":"bad"}`))
				return
			}
			for i := range req.Faces {
				store.Store(req.Faces[i].FaceID, &req.Faces[i])
			}
			_, _ = w.Write([]byte(`{"code":0,"message":"success"}`))
		}))
		defer srv.Close()
		hc := stdproto.NewHTTPClient()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			body, err := json.Marshal(struct {
				Token string            `json:"token"`
				Faces []stdproto.FaceOp `json:"faces"`
			}{exampleToken, ops})
			if err != nil {
				b.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/faceAC/syncFaces", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Close = true
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var env struct{ Code int }
			err = json.NewDecoder(resp.Body).Decode(&env)
			resp.Body.Close()
			if err != nil || env.Code != 0 {
				b.Fatalf("answer %v %v", env, err)
			}
		}
		b.ReportMetric(float64(b.N*len(ops))/b.Elapsed().Seconds(), "faces/s")
	})
}
