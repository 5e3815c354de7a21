package images

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReleaseDate(t *testing.T) {
	release := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" +
		"Origin: Debian\nSuite: stable\nCodename: trixie\n" +
		"Date: Sat, 15 Nov 2025 09:15:44 UTC\nValid-Until: Sat, 22 Nov 2025 09:15:44 UTC\n"
	got, err := releaseDate([]byte(release))
	require.NoError(t, err)
	assert.Equal(t, time.Date(2025, 11, 15, 9, 15, 44, 0, time.UTC), got)
	assert.Equal(t, time.UTC, got.Location())
}

func TestReleaseDateErrors(t *testing.T) {
	_, err := releaseDate([]byte("Origin: Debian\nValid-Until: Sat, 22 Nov 2025 09:15:44 UTC\n"))
	require.EqualError(t, err, "release file has no Date field")

	_, err = releaseDate([]byte("Date: 2025-11-15 09:15:44\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `release file date "2025-11-15 09:15:44": `)
}

func TestMirrorPathAndLastLines(t *testing.T) {
	assert.Equal(t, "/debian", mustPath("http://deb.debian.org/debian/"))
	assert.Equal(t, "", mustPath("http://deb.debian.org"))
	assert.Equal(t, "c / d", lastLines([]byte("a\nb\nc\nd\n\n"), 2))
	assert.Equal(t, "only", lastLines([]byte("only"), 4))
}

func TestOpenArchiveNamesAMissingKeyring(t *testing.T) {
	s := &Spec{Path: "images/x.yaml", Suite: "trixie", Mirror: DefaultMirror, SecurityMirror: DefaultSecurityMirror,
		Keyring: DefaultKeyring, SecurityKeyring: "keys/security.gpg", Architecture: "amd64", Components: []string{"main"}}
	_, err := OpenArchive(context.Background(), t.TempDir(), s)
	require.EqualError(t, err, "images/x.yaml: security_keyring: the keyring images/keys/security.gpg is missing; "+
		"name a keyring file (an exported public key) that signs http://deb.debian.org/debian-security's Release files",
		"a relative keyring is relative to the spec's folder")
}
