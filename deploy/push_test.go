package deploy

import (
	"testing"

	"github.com/stretchr/testify/assert"

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
