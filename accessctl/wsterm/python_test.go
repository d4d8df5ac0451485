package wsterm_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/internal/testutil"
)

// pyTerminal runs testdata/py_terminal.py and returns a channel of its
// output lines and a function that waits for its exit.
func pyTerminal(t *testing.T, url, mode string) (<-chan string, func() error) {
	t.Helper()
	lines, wait := testutil.RunPython(t, "websockets", 60*time.Second, "testdata/py_terminal.py", url, mode)
	return lines, func() error {
		_, err := wait()
		if err != nil {
			t.Logf("python: %v", err)
		}
		return err
	}
}

func waitLine(t *testing.T, lines <-chan string, want string) []string {
	t.Helper()
	var seen []string
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("python exited before %q; output:\n%s", want, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.HasPrefix(l, "FAIL") {
				t.Fatalf("python: %s", l)
			}
			if l == want {
				return seen
			}
		case <-deadline:
			t.Fatalf("no %q from python; output:\n%s", want, strings.Join(seen, "\n"))
		}
	}
}

// TestPythonTerminal proves the driver against a terminal we did not write:
// Python's websockets library playing the seed's exact messages.
func TestPythonTerminal(t *testing.T) {
	sink := newRecorder()
	srv := wsterm.NewServer(wsterm.WithSink(sink), wsterm.WithImageValidation(false)) // the spec's "base64....." placeholders
	ts := newHTTPServer(t, srv)
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/"
	defer ts.Close()

	lines, wait := pyTerminal(t, url, "main")
	waitLine(t, lines, "REGISTERED")
	d, err := srv.Device("486468465489")
	require.NoError(t, err)
	ctx := ctxT(t)
	seed := wsterm.User{User: "lisi", UserID: "12384865", Pwd: "1234", Name: "李四", Role: "0", Img: "base64....."}
	require.NoError(t, d.AddUser(ctx, seed))
	require.NoError(t, d.EditUser(ctx, seed))
	require.NoError(t, d.DeleteUser(ctx, "12384865", "李四"))
	users, err := d.SelectUser(ctx, wsterm.UserQuery{UserID: "12384865", Name: "李四"})
	require.NoError(t, err)
	assert.Equal(t, []wsterm.User{seed}, users)
	exists, err := d.CompareUser(ctx, "base64...")
	require.NoError(t, err)
	assert.True(t, exists)
	ev, err := d.QueryEvent(ctx, "20240115113644")
	require.NoError(t, err)
	require.NotNil(t, ev.Pass)
	assert.Equal(t, "77986", ev.Pass.Person.ID)
	assert.Equal(t, accessctl.DirectionIn, ev.Pass.Direction)
	waitLine(t, lines, "DONE")

	st, err := d.Status(ctx)
	require.NoError(t, err)
	assert.True(t, st.Online)
	assert.Equal(t, "192.168.0.102", st.Info.IP)
	assert.Equal(t, accessctl.RoleBoth, st.Info.Role)

	pass := sink.of(accessctl.KindPass)
	require.Len(t, pass, 1)
	assert.Equal(t, "486468465489:20240115113644", pass[0].ID)
	assert.Equal(t, "77986", pass[0].Pass.Person.ID)
	assert.Len(t, sink.of(accessctl.KindHeartbeat), 1)
	assert.Len(t, sink.of(accessctl.KindOnline), 1)
	stats := srv.Stats()
	assert.Equal(t, uint64(2), stats.DuplicateEvents, "the source's two examples share one eventid")
	assert.Equal(t, uint64(1), stats.RepairedFrames, "the commented example was repaired")
	assert.Equal(t, uint64(6), stats.Replies)

	// The type-2 example, from a second terminal (its eventid is taken on the first).
	lines2, wait2 := pyTerminal(t, url, "enrol")
	waitLine(t, lines2, "DONE")
	enr := sink.wait(t, accessctl.KindEnrolled)
	assert.Equal(t, "486468465490", enr.Device.ID)
	assert.Equal(t, "12384865", enr.Enrolled.Person.ID)
	assert.Equal(t, "李四", enr.Enrolled.Name)

	require.NoError(t, srv.Close()) // both terminals see the close and exit 0
	waitLine(t, lines, "CLOSED")
	waitLine(t, lines2, "CLOSED")
	require.NoError(t, wait())
	require.NoError(t, wait2())
	assert.Len(t, sink.of(accessctl.KindOffline), 2)
}
