package builders

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCopyAtCopiesDataAndKeepsHoles(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "root.ext4")
	f, err := os.Create(src)
	require.NoError(t, err)
	head := bytes.Repeat([]byte("superblock"), 500)
	tail := []byte("last inode table")
	_, err = f.WriteAt(head, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(tail, 3*mib)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(5*mib)) // ends in a hole
	require.NoError(t, f.Close())

	disk := filepath.Join(dir, "disk.raw")
	require.NoError(t, createSparse(disk, 16*mib))
	require.NoError(t, copyAt(disk, 2*mib, src))

	got, err := os.ReadFile(disk)
	require.NoError(t, err)
	require.Len(t, got, int(16*mib), "the disk keeps its size")
	want := make([]byte, 16*mib)
	copy(want[2*mib:], head)
	copy(want[5*mib:], tail)
	assert.True(t, bytes.Equal(want, got), "the disk holds the source's bytes at the offset and zeros elsewhere")

	fi, err := os.Stat(disk)
	require.NoError(t, err)
	allocated := fi.Sys().(*syscall.Stat_t).Blocks * 512
	assert.Less(t, allocated, 2*mib, "the raw disk stays sparse (%d bytes allocated)", allocated)
}

func TestCopyAtEmptySource(t *testing.T) {
	dir := t.TempDir()
	src, disk := filepath.Join(dir, "empty"), filepath.Join(dir, "disk.raw")
	require.NoError(t, os.WriteFile(src, nil, 0o644))
	require.NoError(t, createSparse(disk, mib))
	require.NoError(t, copyAt(disk, 0, src))
	got, err := os.ReadFile(disk)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, mib), got)
}

func TestCopyAtMissingSource(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, createSparse(filepath.Join(dir, "disk.raw"), mib))
	err := copyAt(filepath.Join(dir, "disk.raw"), 0, filepath.Join(dir, "esp.fat"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "copy esp.fat into the disk: ")
}
