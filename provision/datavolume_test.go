package provision

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDataVolumeFormatsOnlyBlank runs the guest's data-volume guard on
// volume files: it formats a blank one, checks a used one, and leaves
// every other one byte for byte as it was, with the reason to show.
func TestDataVolumeFormatsOnlyBlank(t *testing.T) {
	for _, tool := range []string{"mkfs.ext4", "e2fsck", "blkid"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (e2fsprogs, util-linux)", tool)
		}
	}
	const size = 256 << 20
	ext4 := func(t *testing.T, path string) {
		out, err := exec.Command("mkfs.ext4", "-q", "-F", "-b", "4096", path).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string)
		refused string // "" when the volume must end as a clean ext4
	}{
		{"blank", func(*testing.T, string) {}, ""},
		{"used ext4", ext4, ""},
		{"ext4 with a torn primary superblock", func(t *testing.T, path string) {
			ext4(t, path)
			write(t, path, 1024, bytes.Repeat([]byte{0x5a}, 512))
		}, "e2fsck -b 32768"},
		{"only a backup superblock left", func(t *testing.T, path string) {
			ext4(t, path)
			write(t, path, 0, make([]byte, 128<<10))
		}, "primary superblock is probably damaged"},
		{"another filesystem", func(t *testing.T, path string) {
			// A LUKS header: blkid names it, and it is not ostal's.
			write(t, path, 0, append([]byte("LUKS\xba\xbe\x00\x01"), make([]byte, 4096)...))
		}, "holds a crypto_LUKS filesystem"},
		{"data at the end only", func(t *testing.T, path string) {
			write(t, path, size-4096, []byte("EFI PART, a GPT's backup header"))
		}, "is not blank"},
	}
	script, err := filepath.Abs("system/rootfs/usr/lib/ostal/data-volume")
	require.NoError(t, err)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			vol := filepath.Join(dir, "data.img")
			require.NoError(t, os.WriteFile(vol, nil, 0o600))
			require.NoError(t, os.Truncate(vol, size))
			c.prepare(t, vol)
			before := digest(t, vol)
			cmd := exec.Command(script, vol)
			errFile := filepath.Join(dir, "run/data-volume.error")
			cmd.Env = append(os.Environ(), "OSTAL_DATA_VOLUME_ERROR="+errFile)
			out, err := cmd.CombinedOutput()
			if c.refused == "" {
				require.NoError(t, err, "%s", out)
				fsck, err := exec.Command("e2fsck", "-n", "-f", vol).CombinedOutput()
				assert.NoError(t, err, "a clean ext4 after the guard:\n%s", fsck)
				assert.NoFileExists(t, errFile)
				return
			}
			require.Error(t, err, "the guard must refuse: %s", out)
			assert.Equal(t, before, digest(t, vol), "a refused volume is not changed")
			reason, rerr := os.ReadFile(errFile)
			require.NoError(t, rerr)
			assert.Contains(t, string(reason), c.refused)
			assert.Contains(t, string(reason), "services stay down")
			assert.False(t, strings.Contains(string(out), "making an ext4"), "%s", out)
		})
	}
}

func write(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
}

func digest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(b)
}
