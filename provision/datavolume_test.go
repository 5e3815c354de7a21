package provision

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestDataVolumeFindsItsDiskBySerial runs the guard as the image does,
// with --serial, on a fake sysfs and /dev: it takes the one disk with the
// data volume's serial (waiting for it to appear), links it for the
// mount, and refuses when no disk, or more than one, has the serial,
// touching none of them.
func TestDataVolumeFindsItsDiskBySerial(t *testing.T) {
	for _, tool := range []string{"mkfs.ext4", "e2fsck", "blkid"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (e2fsprogs, util-linux)", tool)
		}
	}
	script, err := filepath.Abs("system/rootfs/usr/lib/ostal/data-volume")
	require.NoError(t, err)
	cases := []struct {
		name    string
		disks   map[string]string // device name: serial
		late    string            // a disk that appears after the guard started
		want    string            // the device formatted and linked
		refused string
	}{
		{"the disk with the serial", map[string]string{"vda": "", "vdb": "backup", "vdc": "ostal-data"}, "", "vdc", ""},
		{"a disk the kernel finds late", map[string]string{"vda": ""}, "vdb", "vdb", ""},
		{"no disk with the serial", map[string]string{"vda": "", "vdb": "backup"}, "", "", "no data volume is mounted at /srv/data: no disk with the serial ostal-data"},
		{"two disks with the serial", map[string]string{"vdb": "ostal-data", "vdc": "ostal-data"}, "", "", "2 disks have the serial ostal-data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sys, dev := filepath.Join(dir, "sys"), filepath.Join(dir, "dev")
			addDisk := func(name, serial string) {
				require.NoError(t, os.MkdirAll(filepath.Join(sys, "block", name), 0o755))
				if serial != "" { // the root disk has none
					require.NoError(t, os.WriteFile(filepath.Join(sys, "block", name, "serial"), []byte(serial+"\n"), 0o444))
				}
				require.NoError(t, os.MkdirAll(dev, 0o755))
				vol := filepath.Join(dev, name)
				require.NoError(t, os.WriteFile(vol, nil, 0o600))
				require.NoError(t, os.Truncate(vol, 64<<20))
			}
			for name, serial := range c.disks {
				addDisk(name, serial)
			}
			link := filepath.Join(dir, "run/ostal/data-volume")
			cmd := exec.Command(script, "--serial", "ostal-data", link)
			cmd.Env = append(os.Environ(), "OSTAL_SYSFS="+sys, "OSTAL_DEV="+dev, "OSTAL_DATA_VOLUME_WAIT=3",
				"OSTAL_DATA_VOLUME_ERROR="+filepath.Join(dir, "run/data-volume.error"))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			if c.late != "" {
				time.Sleep(500 * time.Millisecond)
				addDisk(c.late, "ostal-data")
			}
			err := cmd.Wait()
			for name := range c.disks {
				if name == c.want {
					continue
				}
				typ, _ := exec.Command("blkid", "-p", "-o", "value", "-s", "TYPE", filepath.Join(dev, name)).Output()
				assert.Empty(t, strings.TrimSpace(string(typ)), "%s is not the data volume and must stay blank", name)
			}
			if c.refused != "" {
				require.Error(t, err, "the guard must refuse: %s", out.String())
				reason, rerr := os.ReadFile(filepath.Join(dir, "run/data-volume.error"))
				require.NoError(t, rerr)
				assert.Contains(t, string(reason), c.refused)
				assert.NoFileExists(t, link)
				return
			}
			require.NoError(t, err, "%s", out.String())
			target, err := os.Readlink(link)
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(dev, c.want), target)
			fsck, err := exec.Command("e2fsck", "-n", "-f", target).CombinedOutput()
			assert.NoError(t, err, "the data volume is a clean ext4 after the guard:\n%s", fsck)
		})
	}
}
