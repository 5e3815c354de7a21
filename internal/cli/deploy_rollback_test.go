package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/deploy"
)

func TestDeployRollbackHelp(t *testing.T) {
	r := run(t, "deploy", "rollback", "--help")
	require.Equal(t, 0, r.code, r.stderr)
	help := r.stdout + r.stderr
	for _, s := range []string{"--restore-data", "--yes", "today's data kept", "ostal deploy rollback tetaneutral --now --restore-data",
		"everything written since (mail, edits, uploads)", "stays down on the older image"} {
		assert.Contains(t, help, s)
	}
}

// --yes alone confirms nothing: refused before libvirt is reached.
func TestDeployRollbackYesNeedsRestoreData(t *testing.T) {
	inRepo(t, map[string]string{"a.yaml": minimalEnv})
	r := run(t, "deploy", "rollback", "a", "--now", "--yes")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "--yes only confirms --restore-data")
	assert.NotContains(t, r.stderr, "libvirt")
}

func TestConfirmLoss(t *testing.T) {
	since := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	l := &deploy.DataLoss{Domain: "utzqanil", Swap: "20261125T040000Z-1", Snapshot: "ostal-20261125T040000Z-1",
		Since: since, Now: since.Add(50 * time.Hour)}
	for _, c := range []struct {
		answer string
		want   bool
	}{{"yes\n", true}, {"  yes  \n", true}, {"y\n", false}, {"", false}, {"no\n", false}} {
		var out bytes.Buffer
		assert.Equal(t, c.want, confirmLoss(strings.NewReader(c.answer), &out, l), "%q", c.answer)
		for _, s := range []string{"go back to Wed 2026-11-25 04:00 UTC", "2 days 2 h 0 min ago", "is lost", "Type yes"} {
			assert.Contains(t, out.String(), s)
		}
		if !c.want {
			assert.Contains(t, out.String(), "nothing was done")
		}
	}
}
