package accessctl_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/menjin/menjin/accessctl"
)

// Secrets planted in the core types must not reach String, %v, %+v or slog.
func TestRedaction(t *testing.T) {
	const pw, face, idno = "PW-s3cret-981", "FACEBYTES-77", "ID-110101199001011234"
	img := &accessctl.Image{Data: []byte(face), MIME: "image/jpeg"}
	g := accessctl.Grant{
		Person: accessctl.PersonRef{ID: "p1"}, Name: "Ann", IDNumber: idno,
		Credentials: []accessctl.Credential{{Kind: accessctl.CredPassword, Value: pw}, {Kind: accessctl.CredFace, Face: img}},
	}
	pass := &accessctl.PassEvent{Method: accessctl.MethodPassword, Credential: pw, IDNumber: idno, Snapshot: img}
	ev := accessctl.Event{ID: "e1", Kind: accessctl.KindPass, Pass: pass, Enrolled: &g}
	values := map[string]any{"grant": g, "credential": g.Credentials[0], "face": g.Credentials[1], "image": img, "pass": pass, "event": ev}
	for name, v := range values {
		var out []string
		for _, f := range []string{"%v", "%+v", "%s"} {
			out = append(out, fmt.Sprintf(f, v))
		}
		if s, ok := v.(fmt.Stringer); ok {
			out = append(out, s.String())
		}
		var jb, tb bytes.Buffer
		slog.New(slog.NewJSONHandler(&jb, nil)).Info("m", "v", v)
		slog.New(slog.NewTextHandler(&tb, nil)).Info("m", "v", v)
		out = append(out, jb.String(), tb.String())
		for _, s := range out {
			for _, secret := range []string{pw, face, idno} {
				assert.NotContains(t, s, secret, "%s leaks in %q", name, s)
			}
		}
	}
}
