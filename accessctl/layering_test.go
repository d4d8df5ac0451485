package accessctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/internal/testutil"
)

const module = "github.com/menjin/menjin"

// pkgImports is one package of the module and what its non-test code
// imports, as go list tells.
type pkgImports struct {
	ImportPath string
	Imports    []string
}

// notDrivers are the packages under accessctl/ that serve every driver
// rather than speak a protocol; any other accessctl/<x> is a driver.
var notDrivers = map[string]bool{
	"accessctltest": true, "liveness": true, "outbox": true, "reconcile": true, "store": true, "adminapi": true,
	"passcheck": true, "permfile": true, // the local-permission logic the LinkKit and HTTP doors share
}

// rel is path relative to the module ("" for the root), false outside it.
func rel(path string) (string, bool) {
	if path == module {
		return "", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

func under(r, dir string) bool { return r == dir || strings.HasPrefix(r, dir+"/") }

// isInternal: a path with an internal segment, which Go limits to its parent.
func isInternal(r string) bool {
	return r == "internal" || strings.HasPrefix(r, "internal/") || strings.Contains(r, "/internal/") || strings.HasSuffix(r, "/internal")
}

// driverOf names the driver a package belongs to ("" for none).
func driverOf(r string) string {
	x, ok := strings.CutPrefix(r, "accessctl/")
	if !ok {
		return ""
	}
	x, _, _ = strings.Cut(x, "/")
	if notDrivers[x] || strings.HasSuffix(r, "test") {
		return ""
	}
	return x
}

// layerViolations lists every import that breaks the layering of
// the README's Architecture section: internal/ below the domain, examples copyable out of the
// module, drivers independent of each other and of the admin API.
func layerViolations(pkgs []pkgImports) []string {
	var out []string
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			to, ok := rel(imp)
			if !ok {
				continue
			}
			switch {
			case isInternal(from) && !under(from, "examples") &&
				(under(to, "accessctl") || under(to, "intercom") || under(to, "parking") || under(to, "qrcode")):
				out = append(out, fmt.Sprintf("%s imports %s: internal/ must not import the domain or a driver", from, to))
			case under(from, "examples") && isInternal(to) && !under(to, "examples/internal"):
				out = append(out, fmt.Sprintf("%s imports %s: examples may use examples/internal only, so they can be copied out", from, to))
			case driverOf(from) != "" && to == "accessctl/adminapi":
				out = append(out, fmt.Sprintf("%s imports %s: drivers offer capabilities, the API finds them", from, to))
			case driverOf(from) != "" && driverOf(to) != "" && driverOf(to) != driverOf(from):
				out = append(out, fmt.Sprintf("%s imports %s: a driver must not import another", from, to))
			}
		}
	}
	return out
}

func TestLayerRules(t *testing.T) {
	p := func(from string, imports ...string) pkgImports {
		full := make([]string, len(imports))
		for i, imp := range imports {
			full[i] = module + "/" + imp
		}
		return pkgImports{ImportPath: module + "/" + from, Imports: full}
	}
	for _, tc := range []struct {
		name string
		pkg  pkgImports
		bad  bool
	}{
		{"internal leaf", p("internal/jsonfast"), false},
		{"internal imports internal", p("internal/faults", "internal/testutil"), false},
		{"internal imports accessctl", p("internal/backoff", "accessctl"), true},
		{"internal imports a driver", p("internal/jsonfast", "accessctl/wsterm"), true},
		{"internal imports intercom", p("internal/broadcast", "intercom"), true},
		{"internal imports parking", p("internal/x", "parking/parkingmqtt"), true},
		{"internal imports qrcode", p("internal/x", "qrcode"), true},
		{"nested internal imports accessctl", p("parking/internal/latency", "accessctl"), true},
		{"examples/internal imports accessctl", p("examples/internal/gateway", "accessctl", "accessctl/wsterm"), false},
		{"example imports examples/internal", p("examples/wsgateway", "examples/internal/gateway", "accessctl/outbox"), false},
		{"example imports internal", p("examples/stdgateway", "internal/jsonfast"), true},
		{"example imports nested internal", p("examples/parkinglane", "parking/internal/latency"), true},
		{"driver imports core and transport", p("accessctl/wsterm", "accessctl", "transport", "internal/jsonfast"), false},
		{"driver imports helpers", p("accessctl/linkkit", "accessctl/passcheck", "accessctl/permfile"), false},
		{"driver imports another", p("accessctl/hciot", "accessctl/wsterm"), true},
		{"driver subpackage imports another", p("accessctl/hciot/hciotbolt", "accessctl/stdproto"), true},
		{"driver subpackage imports its own", p("accessctl/hciot/hciotbolt", "accessctl/hciot"), false},
		{"driver imports adminapi", p("accessctl/wsterm", "accessctl/adminapi"), true},
		{"simulator imports drivers", p("accessctl/wsterm/wstermtest", "accessctl/wsterm", "accessctl/stdproto"), false},
		{"adminapi imports nothing of drivers", p("accessctl/adminapi", "accessctl", "internal/jsonfast"), false},
		{"outside the module", pkgImports{ImportPath: "example.com/x", Imports: []string{module + "/internal/jsonfast"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := layerViolations([]pkgImports{tc.pkg})
			if tc.bad {
				assert.Len(t, got, 1)
			} else {
				assert.Empty(t, got)
			}
		})
	}
}

// TestLayering holds the module's real import graph to the rules.
func TestLayering(t *testing.T) {
	goTool := testutil.RequireTool(t, "go")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "list", "-deps", "-json=ImportPath,Imports,Standard", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	var pkgs []pkgImports
	ours := 0
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkgImports
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		if _, ok := rel(p.ImportPath); ok {
			ours++
		}
		pkgs = append(pkgs, p)
	}
	require.Greater(t, ours, 30, "go list saw the module")
	assert.Empty(t, layerViolations(pkgs))
}
