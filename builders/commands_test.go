package builders

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/images"
)

func TestMke2fsCommand(t *testing.T) {
	c := mke2fsCommand("/c/tools", "/w/root", "/w/root.ext4", "0b5e5c1a-0000-5000-8000-000000000000", rootfsBytes(1<<30), 1795252544)
	assert.Equal(t, Command{
		Name:  "mke2fs",
		Tools: "/c/tools",
		Args: []string{"-t", "ext4", "-q", "-F", "-L", "root", "-U", "0b5e5c1a-0000-5000-8000-000000000000",
			"-E", "hash_seed=0b5e5c1a-0000-5000-8000-000000000000,root_owner=0:0", "-d", "/w/root", "/w/root.ext4", "979968K"},
		Env: []string{"SOURCE_DATE_EPOCH=1795252544", "E2FSPROGS_FAKE_TIME=1795252544", "MKE2FS_CONFIG=/c/tools/etc/mke2fs.conf"},
	}, c)
}

func TestMmdebstrapCommand(t *testing.T) {
	pkgs := []images.Package{{Name: "bash"}, {Name: "linux-image-amd64"}, {Name: "systemd-sysv"}}
	c := mmdebstrapCommand("trixie", "/c/trees/image-x.tmp-1", "/c/trees/image-x.tmp-1.repo", "/c/trees/image-x.tmp-1.preseed", pkgs, 1795252544)
	assert.Equal(t, Command{
		Name: "mmdebstrap",
		Args: []string{
			"--mode=root", "--variant=custom", "--format=directory",
			"--include=bash,linux-image-amd64,systemd-sysv",
			`--aptopt=APT::Install-Recommends "false"`,
			"--dpkgopt=path-exclude=/usr/share/man/*",
			"--dpkgopt=path-exclude=/usr/share/doc/*",
			"--dpkgopt=path-include=/usr/share/doc/*/copyright",
			"--setup-hook=sync-in /c/trees/image-x.tmp-1.preseed /",
			"trixie", "/c/trees/image-x.tmp-1", "deb [trusted=yes] copy:///c/trees/image-x.tmp-1.repo ./",
		},
		Env:       []string{"SOURCE_DATE_EPOCH=1795252544"},
		Contained: true,
	}, c)
}

func TestQcow2Command(t *testing.T) {
	for _, compression := range []string{"zstd", "zlib"} {
		assert.Equal(t, Command{Name: "qemu-img", Tools: "/c/tools", Args: []string{
			"convert", "-q", "-f", "raw", "-O", "qcow2", "-c", "-o", "compression_type=" + compression + ",cluster_size=65536",
			"/w/disk.raw", "/o/tiny.qcow2",
		}}, qcow2Command("/c/tools", "/w/disk.raw", "/o/tiny.qcow2", compression))
	}
}

func TestExtractCommand(t *testing.T) {
	c := extractCommand("/c/debs/abc.deb", "/c/trees/tools-x")
	assert.Equal(t, Command{Name: "dpkg-deb", Args: []string{"--extract", "/c/debs/abc.deb", "/c/trees/tools-x"}}, c)
	assert.Equal(t, "dpkg-deb --extract /c/debs/abc.deb /c/trees/tools-x", c.String())
}

func TestCachePaths(t *testing.T) {
	assert.Equal(t, "/c/debs/ab12.deb", debPath("/c", "ab12"))
	assert.Equal(t, "/c/trees/image-0123456789abcdef", treeDir("/c", "image", "0123456789abcdef0123456789abcdef"))
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		64 << 20: "64.0 MiB", 4 << 30: "4.0 GiB", 3 << 40: "3.0 TiB"} {
		assert.Equal(t, want, humanBytes(n), "%d", n)
	}
}

func TestImageTreeKeyCoversPreseedAndEpoch(t *testing.T) {
	lock := func(version string, day time.Time) *images.Lock {
		return &images.Lock{Architecture: "amd64", ReleaseDate: day,
			Sets: map[string][]images.Package{images.SetImage: {{Name: "systemd", Version: version}}}}
	}
	today := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	a := imageTreeKey(lock("257.9-1", today))
	assert.Equal(t, a, imageTreeKey(lock("257.9-1", today)), "the key is stable")
	assert.NotEqual(t, a, imageTreeKey(lock("257.9-2", today)), "other packages, another tree")
	assert.NotEqual(t, a, imageTreeKey(lock("257.9-1", today.AddDate(0, 0, -1))), "the same packages locked a day earlier, another tree")
	saved := vmDiskModules
	t.Cleanup(func() { vmDiskModules = saved })
	vmDiskModules = append([]string{"floppy"}, saved...)
	assert.NotEqual(t, a, imageTreeKey(lock("257.9-1", today)), "another initrd recipe, another tree")
}

func TestWritePreseed(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writePreseed(dir))
	hook, err := os.Stat(filepath.Join(dir, "etc/initramfs-tools/hooks/ostal-vm-disks"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), hook.Mode().Perm(), "initramfs-tools runs only executable hooks")
	conf, err := os.ReadFile(filepath.Join(dir, "etc/initramfs-tools/conf.d/ostal.conf"))
	require.NoError(t, err)
	assert.Contains(t, string(conf), "\nMODULES=list\n")
}
