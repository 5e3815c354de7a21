package deploy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/internal/virt"
)

func TestWithoutHeader(t *testing.T) {
	const kib, mib = int64(1) << 10, int64(1) << 20
	for _, tc := range []struct {
		name string
		in   []virt.Extent
		want []virt.Extent
	}{
		{"no data", nil, nil},
		{"extent inside the header is dropped", []virt.Extent{{Offset: 0, Length: 4 * kib}}, nil},
		{"extent filling the header exactly is dropped", []virt.Extent{{Offset: 0, Length: 64 * kib}}, nil},
		{"extent ending inside the header is dropped", []virt.Extent{{Offset: 8 * kib, Length: 16 * kib}}, nil},
		{"extent crossing the header is trimmed",
			[]virt.Extent{{Offset: 0, Length: 1 * mib}},
			[]virt.Extent{{Offset: 64 * kib, Length: mib - 64*kib}}},
		{"extent starting inside the header and crossing it is trimmed",
			[]virt.Extent{{Offset: 4 * kib, Length: 128 * kib}},
			[]virt.Extent{{Offset: 64 * kib, Length: 68 * kib}}},
		{"extent starting at the header's end is unchanged",
			[]virt.Extent{{Offset: 64 * kib, Length: 4 * kib}},
			[]virt.Extent{{Offset: 64 * kib, Length: 4 * kib}}},
		{"later extents are unchanged",
			[]virt.Extent{{Offset: 0, Length: 4 * kib}, {Offset: 10 * mib, Length: mib}, {Offset: 30 * mib, Length: 2 * mib}},
			[]virt.Extent{{Offset: 10 * mib, Length: mib}, {Offset: 30 * mib, Length: 2 * mib}}},
		{"trimmed first extent, later ones kept",
			[]virt.Extent{{Offset: 0, Length: 100 * kib}, {Offset: 5 * mib, Length: kib}},
			[]virt.Extent{{Offset: 64 * kib, Length: 36 * kib}, {Offset: 5 * mib, Length: kib}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := withoutHeader(tc.in)
			assert.Equal(t, tc.want, got)
			for _, e := range got {
				assert.GreaterOrEqual(t, e.Offset, int64(headerLen), "the header is never sent with the body")
				assert.Positive(t, e.Length)
			}
		})
	}
}

func TestDataBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []virt.Extent
		want int64
	}{
		{"none", nil, 0},
		{"one", []virt.Extent{{Offset: 1 << 20, Length: 4096}}, 4096},
		{"several, offsets ignored", []virt.Extent{{Offset: 0, Length: 10}, {Offset: 1 << 30, Length: 1 << 20}, {Offset: 5 << 30, Length: 7}}, 10 + 1<<20 + 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, dataBytes(tc.in))
		})
	}
}

// A push cut while it sends the header leaves the volume with the qcow2
// magic but not the rest of the header: the next push sees that the
// header does not read back as the file's, and sends the image again.
func TestPushCutDuringHeader(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int64{0, 4, 4096, headerLen - 1} {
		t.Run(fmt.Sprintf("after %d bytes", n), func(t *testing.T) {
			w := newWorld(t)
			d := w.deployer(testOperator, "machine-1", "")
			img := fullHeaderImage(t)
			w.host.cuts = []int64{-1, n} // the body whole, the header cut after n bytes
			_, err := d.Push(ctx, img)
			require.ErrorIs(t, err, errCut)
			assert.ErrorContains(t, err, "run the push again to start over")
			vol := w.host.volumes[img.VolumeName()]
			require.NotNil(t, vol, "the cut push left its volume")
			if n >= 4 {
				require.Equal(t, "QFI\xfb", string(vol.data[:4]), "the cut header has the magic")
			}

			res, err := d.Push(ctx, img)
			require.NoError(t, err)
			assert.False(t, res.Already, "a volume with a cut header passed for complete")
			assert.Equal(t, img.Size, res.Sent)
			assert.Contains(t, w.out.String(), "was interrupted: sending it again")
			assert.Equal(t, img.Digest, fmt.Sprintf("%x", sha256.Sum256(w.host.volumes[img.VolumeName()].data)))

			res, err = d.Push(ctx, img)
			require.NoError(t, err)
			assert.True(t, res.Already, "a whole push is complete")
		})
	}
}

// A volume whose header is whole but differs from the file's (a stray
// write, a different image under the same name) is not complete either.
func TestPushHeaderDiffers(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	d := w.deployer(testOperator, "machine-1", "")
	img := fullHeaderImage(t)
	_, err := d.Push(ctx, img)
	require.NoError(t, err)
	w.host.volumes[img.VolumeName()].data[headerLen-1] ^= 1
	res, err := d.Push(ctx, img)
	require.NoError(t, err)
	assert.False(t, res.Already)
}

// fullHeaderImage is a test image whose header has no byte that a
// fresh, zeroed volume already has, as a header with its extensions and
// tables may: a header cut anywhere reads back different.
func fullHeaderImage(t *testing.T) *Image {
	b := make([]byte, 2*headerLen)
	for i := range headerLen {
		b[i] = byte(i%251) | 1
	}
	copy(b, "QFI\xfb")
	copy(b[headerLen:], "the system")
	p := filepath.Join(t.TempDir(), "full-header.qcow2")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return &Image{Path: p, Digest: fmt.Sprintf("%x", sha256.Sum256(b)), Size: int64(len(b)), VirtualSize: 1 << 30}
}
