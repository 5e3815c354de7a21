package builders

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A name-based (version 5) UUID with the RFC 4122 / 9562 variant bits.
var uuidV5RE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestIdentityFor(t *testing.T) {
	a := identityFor("utzqanil")
	assert.Equal(t, a, identityFor("utzqanil"), "the same name gives the same identifiers")

	uuids := []string{a.DiskGUID, a.BIOSPartUUID, a.ESPPartUUID, a.RootPartUUID, a.RootFSUUID}
	seen := map[string]bool{}
	for _, u := range uuids {
		assert.Regexp(t, uuidV5RE, u)
		assert.False(t, seen[u], "%s is used twice", u)
		seen[u] = true
	}
	assert.Regexp(t, `^[0-9A-F]{8}$`, a.ESPVolumeID, "a FAT serial is 8 upper-case hex digits (mkfs.fat -i)")

	b := identityFor("tiny")
	for i, u := range []string{b.DiskGUID, b.BIOSPartUUID, b.ESPPartUUID, b.RootPartUUID, b.RootFSUUID} {
		assert.NotEqual(t, uuids[i], u, "another image gets other identifiers")
	}
	assert.NotEqual(t, a.ESPVolumeID, b.ESPVolumeID)
}

// The identifiers are written into fstab, grub.cfg and the partition table
// of every image built so far: a change in how they are derived changes
// every image's bytes, so they are pinned here.
func TestIdentityIsStable(t *testing.T) {
	assert.Equal(t, Identity{
		DiskGUID:     "97b818d7-2192-55b4-b4b9-319c3c53f4f0",
		BIOSPartUUID: "7854762d-4aaa-5a06-a462-d353cacf988d",
		ESPPartUUID:  "1b14d187-8ebf-5dfc-b28b-a3d8c5ca8bc5",
		RootPartUUID: "5b9fc272-8fee-579c-b3a3-91cdb8973e3f",
		RootFSUUID:   "bc63eeb8-adb8-5775-869a-d82ca1a1cb89",
		ESPVolumeID:  "2E3C68FF",
	}, identityFor("utzqanil"))
}

func TestSfdiskScriptOneGiB(t *testing.T) {
	id := identityFor("tiny")
	got := sfdiskScript(id, 1<<30)
	want := "label: gpt\n" +
		"label-id: " + id.DiskGUID + "\n" +
		"unit: sectors\n" +
		"sector-size: 512\n" +
		"first-lba: 2048\n" +
		"start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, uuid=" + id.BIOSPartUUID + ", name=\"bios\"\n" +
		"start=4096, size=131072, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=" + id.ESPPartUUID + ", name=\"esp\"\n" +
		"start=135168, size=1959936, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=" + id.RootPartUUID + ", name=\"root\"\n"
	assert.Equal(t, want, got)

	// The root partition ends 1 MiB before the disk does: room for the
	// backup GPT (33 sectors) at the end.
	assert.Equal(t, int64(2097152-2048), int64(135168+1959936))
}

func TestSfdiskScriptFollowsDiskSize(t *testing.T) {
	id := identityFor("tiny")
	got := sfdiskScript(id, 8<<30)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	require.Len(t, lines, 8)
	assert.True(t, strings.HasPrefix(lines[7], "start=135168, size=16640000, "), lines[7])
	assert.Equal(t, int64(16640000*512), rootfsBytes(8<<30))
}
