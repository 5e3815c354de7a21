package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSecret runs the guest's secret script (base/) on a tmpfs standing
// in for the data volume, in a mount namespace of its own: a secret is
// made once and kept, first uses at once agree, and an empty secret file
// (a lost secret) is an error that leaves the file as it is.
func TestSecret(t *testing.T) {
	needMountNamespace(t, "a tmpfs as the data volume")
	script, err := filepath.Abs("base/rootfs/usr/lib/ostal/secret")
	require.NoError(t, err)
	// volume runs the shell commands with $data a mounted tmpfs and
	// $secret the script.
	volume := func(t *testing.T, commands string) (string, error) {
		data := t.TempDir()
		cmd := exec.Command("unshare", "--mount", "--propagation", "private", "bash", "-euo", "pipefail", "-c",
			`mount -t tmpfs ostal-test "$data"; `+commands)
		cmd.Env = append(os.Environ(), "data="+data, "secret="+script, "OSTAL_DATA="+data)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Run("made once, then kept", func(t *testing.T) {
		out, err := volume(t, `a=$("$secret" wiki-db); b=$("$secret" wiki-db www-data); echo "$a $b"; stat -c '%a %G' "$data/secrets/wiki-db"`)
		require.NoError(t, err, out)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 2, out)
		pair := strings.Fields(lines[0])
		require.Len(t, pair, 2, out)
		assert.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9]{32}$`), pair[0])
		assert.Equal(t, pair[0], pair[1], "the second use prints the same secret")
		assert.Equal(t, "640 www-data", lines[1])
	})
	t.Run("first uses at once agree", func(t *testing.T) {
		out, err := volume(t, `for i in 1 2 3 4 5 6; do "$secret" mailman-rest >"$data/out.$i" & done; wait; cat "$data"/out.* | sort -u | wc -l; ls "$data/secrets"`)
		require.NoError(t, err, out)
		assert.Equal(t, "1\nmailman-rest\n", out, "one secret, no temporary file left")
	})
	t.Run("an empty secret is lost, not replaced", func(t *testing.T) {
		out, err := volume(t, `mkdir -m 0711 "$data/secrets"; : >"$data/secrets/wiki-db"; rc=0; "$secret" wiki-db || rc=$?; echo "rc=$rc size=$(stat -c %s "$data/secrets/wiki-db")"`)
		require.NoError(t, err, out)
		assert.Contains(t, out, "the secret wiki-db was lost")
		assert.Contains(t, out, "Restore the file from a backup")
		assert.Contains(t, out, "rc=1 size=0")
	})
	t.Run("no data volume", func(t *testing.T) {
		cmd := exec.Command(script, "wiki-db")
		cmd.Env = append(os.Environ(), "OSTAL_DATA="+t.TempDir())
		out, err := cmd.CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "no data volume at")
	})
}
