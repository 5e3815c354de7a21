package deploy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/builders"
)

// writeFakeQCOW2 writes a file with a qcow2 magic and virtual size, and
// returns its path and sha256.
func writeFakeQCOW2(t *testing.T, dir string, virtualSize uint64) (string, string) {
	t.Helper()
	b := make([]byte, 128<<10)
	copy(b, "QFI\xfb")
	binary.BigEndian.PutUint32(b[4:8], 3)
	binary.BigEndian.PutUint64(b[24:32], virtualSize)
	copy(b[1000:], "some image content")
	path := filepath.Join(dir, "utzqanil.qcow2")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	sum := sha256.Sum256(b)
	return path, hex.EncodeToString(sum[:])
}

func writeTestManifest(t *testing.T, image string, m builders.Manifest) {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	path := filepath.Join(filepath.Dir(image), "utzqanil.manifest.json")
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func TestOpenImageWithoutManifest(t *testing.T) {
	path, digest := writeFakeQCOW2(t, t.TempDir(), 8<<30)
	img, err := OpenImage(path)
	require.NoError(t, err)
	assert.Equal(t, path, img.Path)
	assert.Equal(t, digest, img.Digest)
	assert.Equal(t, int64(128<<10), img.Size)
	assert.Equal(t, uint64(8)<<30, img.VirtualSize)
	assert.Nil(t, img.Manifest)
	assert.Equal(t, "sha256-"+digest+".qcow2", img.VolumeName())

	r := img.Release("web")
	assert.Equal(t, "unnamed", r.Name, "an image without a manifest still deploys")
	assert.Equal(t, digest, r.Digest)
	assert.Equal(t, "web-root-"+digest[:12]+".qcow2", r.Overlay)
	assert.Empty(t, r.Serves)
	assert.Empty(t, r.Services)
}

func TestOpenImageWithManifest(t *testing.T) {
	dir := t.TempDir()
	path, digest := writeFakeQCOW2(t, dir, 4<<30)
	m := builders.Manifest{Name: "utzqanil", Domain: "utzqanil.example", Services: []string{"nginx", "knot"},
		Image: builders.FileInfo{Path: path, SHA256: digest, Size: 128 << 10}}
	m.Ostal.Commit = "0123abcd"
	writeTestManifest(t, path, m)

	img, err := OpenImage(path)
	require.NoError(t, err)
	require.NotNil(t, img.Manifest)
	r := img.Release("utzqanil")
	assert.Equal(t, Release{
		Digest:   digest,
		Volume:   "sha256-" + digest + ".qcow2",
		Overlay:  "utzqanil-root-" + digest[:12] + ".qcow2",
		Name:     "utzqanil",
		Commit:   "0123abcd",
		Serves:   "utzqanil.example",
		Size:     4 << 30,
		Services: []string{"nginx", "knot"},
	}, r)
	assert.Regexp(t, `^utzqanil-root-[0-9a-f]{12}\.qcow2$`, r.Overlay)
	assert.Regexp(t, `^sha256-[0-9a-f]{64}\.qcow2$`, r.Volume)
}

func TestOpenImageManifestDisagrees(t *testing.T) {
	dir := t.TempDir()
	path, digest := writeFakeQCOW2(t, dir, 4<<30)
	other := sha256.Sum256([]byte("another build"))
	writeTestManifest(t, path, builders.Manifest{Name: "utzqanil", Image: builders.FileInfo{SHA256: hex.EncodeToString(other[:])}})

	_, err := OpenImage(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), digest[:12])
	assert.Contains(t, err.Error(), hex.EncodeToString(other[:])[:12])
	assert.Contains(t, err.Error(), "rebuild")
}

func TestOpenImageRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"raw disk", string(make([]byte, 4096)), "not a qcow2"},
		{"text file", "name: utzqanil\npackages: []\n" + string(make([]byte, 64)), "not a qcow2"},
		{"truncated header", "QFI\xfb\x00\x00\x00\x03", "not a qcow2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".qcow2")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o644))
			_, err := OpenImage(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), path)
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := OpenImage(filepath.Join(dir, "nothing.qcow2"))
		require.Error(t, err)
		assert.ErrorIs(t, err, os.ErrNotExist)
		assert.Contains(t, err.Error(), "make image", "the error says how to get an image")
	})
}

func TestOpenImageBadManifest(t *testing.T) {
	dir := t.TempDir()
	path, _ := writeFakeQCOW2(t, dir, 1<<30)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "utzqanil.manifest.json"), []byte("{not json"), 0o644))
	_, err := OpenImage(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "utzqanil.manifest.json")
}

func TestOpenImageTooSmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.qcow2")
	b := make([]byte, 4096)
	copy(b, "QFI\xfb")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	_, err := OpenImage(path)
	assert.ErrorContains(t, err, "too small to be a bootable qcow2")
}
