package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/menjin/menjin/accessctl"
)

// Webhook is a sink that POSTs each event as JSON to url, with the event id
// in an Idempotency-Key header so that the receiver can drop the duplicates
// at-least-once delivery brings. A 2xx answer is success. 408, 425, 429 and
// 5xx are worth retrying; any other 4xx will not change on retry and is
// marked accessctl.Permanent, so an outbox dead-letters the event.
func Webhook(url string, client *http.Client) accessctl.EventSink {
	if client == nil {
		client = http.DefaultClient
	}
	return accessctl.EventSinkFunc(func(ctx context.Context, e accessctl.Event) error {
		body, err := json.Marshal(e)
		if err != nil {
			return accessctl.Permanent(err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return accessctl.Permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", e.ID)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		switch c := resp.StatusCode; {
		case c >= 200 && c < 300:
			return nil
		case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests, c >= 500:
			return fmt.Errorf("webhook: %s", resp.Status)
		default:
			return accessctl.Permanent(fmt.Errorf("webhook: %s", resp.Status))
		}
	})
}
