package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
)

func TestWebhookClassifiesAnswers(t *testing.T) {
	status := http.StatusOK
	var got accessctl.Event
	var key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key = r.Header.Get("Idempotency-Key")
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	sink := Webhook(srv.URL, srv.Client())
	e := accessctl.Event{ID: "sn-1:42", Kind: accessctl.KindPass, Device: accessctl.DeviceRef{ID: "sn-1"}}

	require.NoError(t, sink.Handle(context.Background(), e))
	assert.Equal(t, "sn-1:42", key)
	assert.Equal(t, e.ID, got.ID)
	assert.Equal(t, accessctl.KindPass, got.Kind)

	for _, c := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInternalServerError} {
		status = c
		err := sink.Handle(context.Background(), e)
		require.Error(t, err, c)
		assert.False(t, accessctl.IsPermanent(err), "%d must be retried", c)
	}
	for _, c := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound} {
		status = c
		err := sink.Handle(context.Background(), e)
		require.Error(t, err, c)
		assert.True(t, accessctl.IsPermanent(err), "%d must not be retried", c)
	}
}

func TestWebhookUnreachableIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := Webhook(url, nil).Handle(context.Background(), accessctl.Event{ID: "x"})
	require.Error(t, err)
	assert.False(t, accessctl.IsPermanent(err))
}
