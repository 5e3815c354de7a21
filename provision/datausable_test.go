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

// TestDataUsable runs the check that data-setup and ssh-host-keys make
// before writing to the data volume, on folders and on a real full
// filesystem (a 4 MiB tmpfs).
func TestDataUsable(t *testing.T) {
	script, err := filepath.Abs("base/rootfs/usr/lib/ostal/data-usable")
	require.NoError(t, err)
	cases := []struct {
		name    string
		layout  string // .ostal-layout's content; "" for a new volume
		full    bool
		refused string // "" when the volume may be written
	}{
		{"a new volume", "", false, ""},
		{"this image's layout", "1\n", false, ""},
		{"a newer image's layout", "2\n", false, "newer than this image's 1"},
		{"no layout number", "ostal\n", false, "not a layout number"},
		{"a full volume", "1\n", true, "the data volume is full"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := t.TempDir()
			if c.full {
				if os.Geteuid() != 0 {
					t.Skip("mounting a small tmpfs needs root")
				}
				out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", data).CombinedOutput()
				require.NoError(t, err, "%s", out)
				t.Cleanup(func() { exec.Command("umount", data).Run() })
			}
			if c.layout != "" {
				require.NoError(t, os.WriteFile(filepath.Join(data, ".ostal-layout"), []byte(c.layout), 0o644))
			}
			out, err := exec.Command(script, data).Output()
			if c.refused != "" {
				require.Error(t, err)
				assert.Contains(t, string(out), c.refused)
				return
			}
			require.NoError(t, err)
			fields := strings.Fields(string(out))
			require.Len(t, fields, 2, "layout and free KiB: %q", out)
			assert.Equal(t, "1", fields[0])
		})
	}
}
