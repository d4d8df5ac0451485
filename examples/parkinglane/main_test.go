package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const childEnv = "MENJIN_PARKINGLANE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Each mode prints one JSON object per car with the plate, the decision,
// the screen and the gate; the lane lets the permitted cars in and keeps
// the others out.
func TestLanePrintsOneLinePerCar(t *testing.T) {
	for _, args := range [][]string{{}, {"-mode", "separated", "-rows", "-4"}, {"-mqtt"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), childEnv+"=1")
			out, err := cmd.Output()
			require.NoError(t, err, "%s", out)
			allowed, denied := 0, 0
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				var line map[string]any
				if json.Unmarshal(sc.Bytes(), &line) != nil {
					continue
				}
				if _, ok := line["plate"]; !ok {
					continue
				}
				require.Contains(t, line, "gate", sc.Text())
				switch line["allowed"] {
				case true:
					allowed++
				case false:
					denied++
				}
			}
			assert.Positive(t, allowed, "no car was let in:\n%s", out)
			assert.Positive(t, denied, "no car was kept out:\n%s", out)
		})
	}
}
