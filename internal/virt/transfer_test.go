package virt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testMiB = int64(1) << 20

// sparseFile is a 64 MiB file holding 4 KiB of data at each of offsets.
func sparseFile(t *testing.T, offsets ...int64) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.img"))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.NoError(t, f.Truncate(64*testMiB))
	block := make([]byte, 4096)
	for i := range block {
		block[i] = 0xa5
	}
	for _, off := range offsets {
		_, err := f.WriteAt(block, off)
		require.NoError(t, err)
	}
	require.NoError(t, f.Sync())
	return f
}

// skipWithoutHoles skips when the filesystem reports the whole file as
// data (no SEEK_DATA, or no sparse files).
func skipWithoutHoles(t *testing.T, f *os.File, extents []Extent) {
	t.Helper()
	fi, err := f.Stat()
	require.NoError(t, err)
	if len(extents) == 1 && extents[0].Offset == 0 && extents[0].Length == fi.Size() {
		t.Skip("this filesystem reports the whole file as data")
	}
}

func covers(extents []Extent, off, length int64) bool {
	for _, e := range extents {
		if e.Offset <= off && off+length <= e.Offset+e.Length {
			return true
		}
	}
	return false
}

func TestDataExtentsFindsData(t *testing.T) {
	written := []int64{0, 10 * testMiB, 30 * testMiB}
	f := sparseFile(t, written...)
	extents, err := DataExtents(f, 1*testMiB)
	require.NoError(t, err)
	skipWithoutHoles(t, f, extents)

	for _, off := range written {
		assert.True(t, covers(extents, off, 4096), "the data at %d is in no extent: %v", off, extents)
	}
	var total int64
	for i, e := range extents {
		assert.Positive(t, e.Length, "extent %d", i)
		assert.GreaterOrEqual(t, e.Offset, int64(0))
		assert.LessOrEqual(t, e.Offset+e.Length, 64*testMiB, "extent %d is past the end", i)
		if i > 0 {
			prev := extents[i-1]
			assert.Greater(t, e.Offset, prev.Offset+prev.Length, "extents are sorted and apart: %v", extents)
		}
		total += e.Length
	}
	assert.Len(t, extents, 3, "data 10 MiB apart is not merged with a 1 MiB gap: %v", extents)
	assert.Less(t, total, 8*testMiB, "only the data is listed, not the 64 MiB file: %v", extents)
}

func TestDataExtentsMergesSmallHoles(t *testing.T) {
	f := sparseFile(t, 0, 10*testMiB, 30*testMiB)
	extents, err := DataExtents(f, 64*testMiB)
	require.NoError(t, err)
	skipWithoutHoles(t, f, extents)

	require.Len(t, extents, 1, "holes smaller than the gap are sent as zeros: %v", extents)
	assert.Equal(t, int64(0), extents[0].Offset)
	assert.GreaterOrEqual(t, extents[0].Offset+extents[0].Length, 30*testMiB+4096)
	assert.Less(t, extents[0].Length, 64*testMiB, "the trailing hole is still left out")
}

func TestDataExtentsMergesOnlyCloseData(t *testing.T) {
	f := sparseFile(t, 0, 10*testMiB, 30*testMiB)
	extents, err := DataExtents(f, 16*testMiB)
	require.NoError(t, err)
	skipWithoutHoles(t, f, extents)

	require.Len(t, extents, 2, "0 and 10 MiB merge, 30 MiB is 20 MiB further: %v", extents)
	assert.True(t, covers(extents[:1], 0, 10*testMiB+4096), "%v", extents)
	assert.True(t, covers(extents[1:], 30*testMiB, 4096), "%v", extents)
}

func TestDataExtentsOfAHoleAndOfDataAtTheEnd(t *testing.T) {
	t.Run("only a hole", func(t *testing.T) {
		f := sparseFile(t)
		extents, err := DataExtents(f, testMiB)
		require.NoError(t, err)
		skipWithoutHoles(t, f, extents)
		assert.Empty(t, extents, "a file of zeros sends nothing")
	})
	t.Run("data in the last block", func(t *testing.T) {
		f := sparseFile(t, 64*testMiB-4096)
		extents, err := DataExtents(f, testMiB)
		require.NoError(t, err)
		skipWithoutHoles(t, f, extents)
		require.Len(t, extents, 1)
		assert.Equal(t, 64*testMiB, extents[0].Offset+extents[0].Length)
		assert.True(t, covers(extents, 64*testMiB-4096, 4096))
	})
	t.Run("empty file", func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "empty"))
		require.NoError(t, err)
		defer f.Close()
		extents, err := DataExtents(f, testMiB)
		require.NoError(t, err)
		assert.Empty(t, extents)
	})
}
