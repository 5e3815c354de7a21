package images

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pkg(name, version, archive string) Package {
	return Package{Name: name, Version: version, Arch: "amd64", Archive: archive, SHA256: strings.Repeat(version[:1], 64),
		Filename: "pool/main/" + name + "_" + version + ".deb"}
}

func lockOf(image, tools []Package) *Lock {
	return &Lock{Suite: "trixie", Sets: map[string][]Package{SetImage: image, SetTools: tools}}
}

func TestDiffLocks(t *testing.T) {
	old := lockOf(
		[]Package{pkg("bash", "5.2", "trixie"), pkg("libssl3t64", "3.5.9-1~deb13u1", "trixie"), pkg("tzdata", "2025b-4", "trixie"), pkg("gone", "1.0", "trixie"), pkg("libssl", "3.5", "trixie")},
		[]Package{pkg("e2fsprogs", "1.47", "trixie"), pkg("libssl3t64", "3.5.9-1~deb13u1", "trixie")})
	now := lockOf(
		[]Package{pkg("bash", "5.2", "trixie"), pkg("libssl3t64", "3.5.9-1~deb13u2", "trixie-security"), pkg("tzdata", "2025c-0+deb13u1", "trixie-updates"), pkg("libnew1", "2.0", "trixie"), pkg("libssl", "3.6", "trixie-security")},
		[]Package{pkg("e2fsprogs", "1.48", "trixie-security"), pkg("libssl3t64", "3.5.9-1~deb13u2", "trixie-security")})
	var got []string
	for _, c := range DiffLocks(old, now) {
		got = append(got, c.String()+" "+strings.Join(c.Sets, ","))
	}
	assert.Equal(t, []string{
		"e2fsprogs 1.47 → 1.48 (trixie-security) [build tool] tools",
		"gone 1.0 image",
		"libnew1 (new) → 2.0 (trixie) image",
		"libssl 3.5 → 3.6 (trixie-security) image",
		"libssl3t64 3.5.9-1~deb13u1 → 3.5.9-1~deb13u2 (trixie-security) image,tools",
		"tzdata 2025b-4 → 2025c-0+deb13u1 (trixie-updates) image",
	}, got)
	assert.True(t, HasSecurity(DiffLocks(old, now)))
	assert.Empty(t, DiffLocks(old, old))
}

func TestAddFixes(t *testing.T) {
	changes := []Change{
		{Name: "libssl3t64", Old: "3.5.4-1~deb13u1", New: "3.5.4-1~deb13u2", Archive: "trixie-security", Security: true},
		{Name: "openssl", Old: "3.5.4-1~deb13u1", New: "3.5.4-1~deb13u2", Archive: "trixie-security", Security: true},
		{Name: "libfoo1", Old: "1.0-1", New: "1.0-1+deb13u1", Archive: "trixie-security", Security: true},
		{Name: "libnew1", New: "2.0", Archive: "trixie"},
		{Name: "gone", Old: "1.0"},
	}
	entries := ParseChangelog([]byte(opensslChangelog))
	AddFixes(changes, map[string]*DebChangelog{
		"libssl3t64": {DocLink: "openssl"},
		"openssl":    {Entries: entries},
		"libfoo1":    {DocLink: "libfoo-common"},
		"libnew1":    {Entries: entries},
	})
	want := Fixes{CVEs: []string{"CVE-2025-9230", "CVE-2025-9231", "CVE-2025-9232"}, Advisories: []string{"DSA-6015-1"}}
	assert.Equal(t, want, changes[0].Fixes, "a doc folder linked to an updated package's reads that one's changelog")
	assert.Equal(t, want, changes[1].Fixes)
	assert.Empty(t, changes[2].CVEs)
	assert.Equal(t, "its doc folder links to libfoo-common's, whose .deb holds the changelog", changes[2].Note, "said, not guessed")
	assert.Empty(t, changes[3].CVEs, "a new package fixes nothing the image had")
	assert.Empty(t, changes[4].Note)

	var b strings.Builder
	WriteChanges(&b, changes)
	assert.Equal(t, "security updates (3):\n"+
		"  libssl3t64 3.5.4-1~deb13u1 → 3.5.4-1~deb13u2 (trixie-security): CVE-2025-9230, CVE-2025-9231, CVE-2025-9232, DSA-6015-1\n"+
		"  openssl 3.5.4-1~deb13u1 → 3.5.4-1~deb13u2 (trixie-security): CVE-2025-9230, CVE-2025-9231, CVE-2025-9232, DSA-6015-1\n"+
		"  libfoo1 1.0-1 → 1.0-1+deb13u1 (trixie-security) (its doc folder links to libfoo-common's, whose .deb holds the changelog)\n"+
		"other updates (1):\n"+
		"  libnew1 (new) → 2.0 (trixie) (a package the image did not have)\n"+
		"no longer installed (1):\n"+
		"  gone 1.0\n", b.String())

	msg := CommitMessage("images/x.lock", changes)
	subject, _, ok := strings.Cut(msg, "\n")
	require.True(t, ok)
	assert.Equal(t, "images/x.lock: Debian's updates, 5 packages, fixing CVE-2025-9230, CVE-2025-9231, CVE-2025-9232", subject)
	assert.Contains(t, msg, "\nCVEs fixed (3): CVE-2025-9230 CVE-2025-9231 CVE-2025-9232\n")
}
