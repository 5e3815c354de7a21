package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// needMountNamespace skips a test that runs a script in a mount
// namespace of its own (unshare), with what mounted there.
func needMountNamespace(t *testing.T, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace with " + what)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
}

// TestMemberAddFormerName runs the guest's ostal-member (base/) in a
// mount namespace of its own, with a tmpfs over /var/lib standing in for
// the data volume's folders: a new member with a former member's name
// is refused, as for the files folder so for Radicale's collections of
// that name, and no account is made.
func TestMemberAddFormerName(t *testing.T) {
	needMountNamespace(t, "a tmpfs over /var/lib")
	script, err := filepath.Abs("base/rootfs/usr/sbin/ostal-member")
	require.NoError(t, err)
	// bcrypt is the guest's (python3-bcrypt); a stand-in prints a hash.
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "python3"), []byte("#!/bin/sh\necho '$2b$10$stand-in'\n"), 0o755))
	const (
		files = "/var/lib/ostal/files"
		cals  = "/var/lib/radicale/collections/collection-root"
	)
	for _, c := range []struct {
		name    string
		arrange string // shell run before `ostal-member add ana`
		refused []string
	}{
		{name: "a new name", arrange: `mkdir -p ` + cals + `/bob`},
		{name: "a former member's files", arrange: `mkdir -p ` + files + `/ana`,
			refused: []string{files + "/ana is a former member's folder: move it away first (mv " + files + "/ana " + files + "/ana.former) or choose another name"}},
		{name: "a former member's calendars", arrange: `mkdir -p ` + cals + `/ana/calendar; echo BEGIN:VCALENDAR >` + cals + `/ana/calendar/event.ics`,
			refused: []string{cals + "/ana holds a former member's calendars and address books: move it away first (mv " + cals + "/ana " + cals + "/ana.former) or choose another name"}},
		{name: "both, each named", arrange: `mkdir -p ` + files + `/ana ` + cals + `/ana`,
			refused: []string{files + "/ana is a former member's folder", cals + "/ana holds a former member's calendars"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("unshare", "--mount", "--propagation", "private", "bash", "-euo", "pipefail", "-c", `
				mount -t tmpfs ostal-test /var/lib
				mkdir -p /var/lib/ostal/members `+files+` `+cals+`
				mount -t tmpfs ostal-members /var/lib/ostal/members
				`+c.arrange+`
				before=$(find /var/lib/ostal/files /var/lib/radicale -mindepth 1 | sort)
				rc=0; "$member" add ana || rc=$?
				after=$(find /var/lib/ostal/files /var/lib/radicale -mindepth 1 | sort)
				[ "$before" = "$after" ] && echo "folders: unchanged" || echo "folders: $after"
				echo "rc=$rc"
				echo "accounts: $(cut -d: -f1 /var/lib/ostal/members/htpasswd | tr '\n' ' ')"
				echo "files: $(ls `+files+` | tr '\n' ' ')"`)
			cmd.Env = append(os.Environ(), "member="+script, "PATH="+bin+":"+os.Getenv("PATH"))
			b, err := cmd.CombinedOutput()
			out := string(b)
			require.NoError(t, err, out)
			if c.refused == nil {
				assert.Contains(t, out, "rc=0")
				assert.Contains(t, out, "accounts: ana \n")
				assert.Contains(t, out, "files: ana \n")
				return
			}
			assert.Contains(t, out, "rc=1")
			assert.Contains(t, out, "accounts: \n", "a refused name gets no account")
			for _, r := range c.refused {
				assert.Contains(t, out, "ostal-member: "+r)
			}
			assert.Contains(t, out, "folders: unchanged", "the former member's folders are left as they were")
		})
	}
}
