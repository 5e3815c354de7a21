package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublicPorts loads the guest's firewall (firewall/) into a network
// namespace of its own, with a tmpfs standing in for the data volume,
// and runs public-ports as the machine's life would: booted without the
// candidate credential it serves; a swap's candidate is shut until the
// deployer opens it, and its reboot opens again by itself; the next
// swap's candidate on that volume, or a rollback's data, are shut again.
func TestPublicPorts(t *testing.T) {
	needMountNamespace(t, "a tmpfs as the data volume")
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed (apt-get install nftables; make test-packages does)")
	}
	dir := t.TempDir()
	site := Site{Domain: "example.org"}
	for _, f := range []string{"etc/nftables.conf.tmpl", "usr/lib/ostal/public-ports.tmpl"} {
		src := filepath.Join("firewall/rootfs", f)
		text, err := os.ReadFile(src)
		require.NoError(t, err)
		out, err := render(src, text, site)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(strings.TrimSuffix(f, ".tmpl"))), out, 0o755))
	}
	// boot runs commands in a fresh namespace: the firewall loaded as
	// nftables.service does (the rules, then public-ports apply), with
	// the credential ostal.candidate=$1 unless it is empty.
	machine := func(t *testing.T, commands string) string {
		t.Helper()
		data, creds := t.TempDir(), t.TempDir()
		cmd := exec.Command("unshare", "--mount", "--net", "--propagation", "private", "bash", "-euo", "pipefail", "-c", `
mount -t tmpfs ostal-test "$OSTAL_DATA"
boot() {
	rm -f "$CREDENTIALS_DIRECTORY/ostal.candidate"
	[ -z "$1" ] || echo "$1" >"$CREDENTIALS_DIRECTORY/ostal.candidate"
	nft -f "$dir/nftables.conf"
	"$dir/public-ports" apply
}
`+commands)
		cmd.Env = append(os.Environ(), "dir="+dir, "OSTAL_DATA="+data, "CREDENTIALS_DIRECTORY="+creds, "OSTAL_FW_CFG="+t.TempDir())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	status := `echo "status: $("$dir/public-ports" status)"`
	t.Run("no candidate: open", func(t *testing.T) {
		out := machine(t, `boot ""; `+status+`; nft list set inet filter public_tcp`)
		assert.Contains(t, out, "status: open\n")
		assert.Contains(t, out, "elements = { 25, 80, 443 }")
	})
	t.Run("a candidate: shut until opened, then its reboot opens by itself", func(t *testing.T) {
		out := machine(t, `boot ostal-20261202-1; `+status+`
"$dir/public-ports" open ostal-20261202-1; `+status+`; cat "$OSTAL_DATA/.ostal-public"
boot ostal-20261202-1; `+status)
		assert.Contains(t, out, "candidate of swap ostal-20261202-1: ports 25, 80, 443 stay shut to the public until the deployer commits")
		assert.Equal(t, []string{"status: shut (candidate of swap ostal-20261202-1)", "status: open", "status: open"}, grep(out, "status: "))
		assert.Contains(t, out, "ports 25, 80, 443 are open (swap ostal-20261202-1 committed)\nstatus: open\nostal-20261202-1\n", "the swap is on the volume")
	})
	t.Run("the next swap's candidate on that volume: shut", func(t *testing.T) {
		out := machine(t, `boot ostal-a; "$dir/public-ports" open ostal-a >/dev/null; boot ostal-b; `+status)
		assert.Equal(t, []string{"status: shut (candidate of swap ostal-b)"}, grep(out, "status: "))
	})
	t.Run("a committed machine that is shut says so", func(t *testing.T) {
		out := machine(t, `boot ostal-a; "$dir/public-ports" open ostal-a >/dev/null; nft -f "$dir/nftables.conf"; `+status)
		assert.Equal(t, []string{"status: shut, though swap ostal-a was committed: run public-ports apply"}, grep(out, "status: "))
	})
	t.Run("a reload of the rules keeps a candidate shut", func(t *testing.T) {
		out := machine(t, `boot ostal-a; nft -f "$dir/nftables.conf"; "$dir/public-ports" apply >/dev/null; `+status)
		assert.Equal(t, []string{"status: shut (candidate of swap ostal-a)"}, grep(out, "status: "))
	})
	t.Run("a bad swap name is refused", func(t *testing.T) {
		out := machine(t, `boot ""; rc=0; "$dir/public-ports" open 'x;y' || rc=$?; echo "rc=$rc"; ls -A "$OSTAL_DATA"`)
		assert.Contains(t, out, "public-ports: bad swap name 'x;y'\nrc=2\n")
	})
}

// grep is the lines of out that start with prefix.
func grep(out, prefix string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			lines = append(lines, l)
		}
	}
	return lines
}
