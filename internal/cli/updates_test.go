package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/images"
	"github.com/ostal/ostal/internal/testarchive"
)

// fixtureArchive serves, signed with a key of the test's own, a trixie
// holding ostal-fixture 1.0-1 and stand-ins for the build tools (every
// lock resolves them), an empty trixie-updates, and a trixie-security
// that security() fills with ostal-fixture 1.0-1+deb13u99, whose
// changelog names CVE-2026-99999 and DSA-9999-1.
type fixtureArchive struct {
	*testarchive.Server
	spec, debs string
}

func newFixtureArchive(t *testing.T) *fixtureArchive {
	a := &fixtureArchive{Server: testarchive.NewServer(t), debs: t.TempDir()}
	debs := []string{testarchive.MakeDeb(t, a.debs, "ostal-fixture", "1.0-1",
		testarchive.ChangelogEntry("ostal-fixture", "1.0-1", "unstable", "Initial release, fixing CVE-2020-11111."))}
	for _, tool := range builders.ToolPackages {
		debs = append(debs, testarchive.MakeDeb(t, a.debs, tool, "1.0-1", testarchive.ChangelogEntry(tool, "1.0-1", "unstable", "Stand-in.")))
	}
	a.Publish(t, "debian", "trixie", debs...)
	a.Publish(t, "debian", "trixie-updates")
	a.Publish(t, "debian-security", "trixie-security")
	dir, provision := workspace(t)
	a.spec = writeFile(t, filepath.Join(dir, "images/fixture.yaml"), "name: fixture\nsuite: trixie\n"+
		"mirror: "+a.URL+"/debian\nkeyring: "+a.Keyring+"\n"+
		"security_mirror: "+a.URL+"/debian-security\nsecurity_keyring: "+a.Keyring+"\n"+
		"packages:\n  - ostal-fixture\n")
	t.Setenv("OSTAL_PROVISION", provision)
	return a
}

func (a *fixtureArchive) security(t *testing.T) string {
	old := filepath.Join(a.debs, "ostal-fixture_1.0-1_all.deb")
	deb := testarchive.BumpDeb(t, old, t.TempDir(), "1.0-1+deb13u99", testarchive.ChangelogEntry("ostal-fixture", "1.0-1+deb13u99", "trixie-security",
		"Fix CVE-2026-99999: a hole found by ostal's tests (DSA-9999-1)."))
	a.Publish(t, "debian-security", "trixie-security", deb)
	return "debian-security/pool/trixie-security/" + filepath.Base(deb)
}

// ostalIn runs the CLI with a cache apt's download user can read.
func ostalIn(t *testing.T, cache string, args ...string) result {
	t.Helper()
	return run(t, append([]string{args[0], "--cache", cache}, args[1:]...)...)
}

func TestUpdatesFromASignedSecurityArchive(t *testing.T) {
	a := newFixtureArchive(t)
	cache := testarchive.ReadableTempDir(t)
	r := ostalIn(t, cache, "lock", a.spec)
	require.Equal(t, 0, r.code, r.stderr)
	r = ostalIn(t, cache, "updates", a.spec)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, images.LockPath(a.spec)+" is up to date with trixie, trixie-updates, trixie-security\n", r.stdout)

	a.security(t)
	r = ostalIn(t, cache, "updates", a.spec)
	assert.Equal(t, 1, r.code, "a pending security update exits 1: %s", r.stderr)
	assert.Equal(t, "security updates (1):\n  ostal-fixture 1.0-1 → 1.0-1+deb13u99 (trixie-security): CVE-2026-99999, DSA-9999-1\n", r.stdout)
	assert.Contains(t, r.stderr, "ostal updates: security updates are pending for "+images.LockPath(a.spec)+": run `ostal lock --update "+a.spec+"`")

	r = ostalIn(t, cache, "updates", "--json", a.spec)
	assert.Equal(t, 1, r.code)
	var out struct {
		Security []images.Change `json:"security"`
		Other    []images.Change `json:"other"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	require.Len(t, out.Security, 1)
	assert.Equal(t, []string{"CVE-2026-99999"}, out.Security[0].CVEs)
	assert.Equal(t, []string{"DSA-9999-1"}, out.Security[0].Advisories)
	assert.Empty(t, out.Other)

	msg := filepath.Join(t.TempDir(), "msg")
	r = ostalIn(t, cache, "lock", "--update", "--message", msg, a.spec)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "ostal-fixture 1.0-1 → 1.0-1+deb13u99 (trixie-security): CVE-2026-99999, DSA-9999-1\n")
	assert.Contains(t, r.stdout, "fixes 1 CVEs: CVE-2026-99999\n")
	m, err := os.ReadFile(msg)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(m), images.LockPath(a.spec)+": Debian's updates, 1 packages, fixing CVE-2026-99999\n"), string(m))
	l, err := images.ReadLock(images.LockPath(a.spec))
	require.NoError(t, err)
	fixture := l.Sets[images.SetImage][0]
	assert.Equal(t, "1.0-1+deb13u99", fixture.Version)
	assert.Equal(t, "trixie-security", l.ArchiveOf(fixture))
	assert.Equal(t, a.URL+"/debian-security/pool/trixie-security/ostal-fixture_1.0-1+deb13u99_all.deb", l.PackageURL(nil, fixture))

	r = ostalIn(t, cache, "lock", "--update", "--message", msg, a.spec)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no package has a newer version in trixie, trixie-updates, trixie-security; the lock is unchanged\n")
	assert.NoFileExists(t, msg, "no commit message when nothing changed")
	assert.Equal(t, 0, ostalIn(t, cache, "updates", a.spec).code)
}

func TestUpdatesRefuseATamperedDeb(t *testing.T) {
	a := newFixtureArchive(t)
	cache := testarchive.ReadableTempDir(t)
	require.Equal(t, 0, ostalIn(t, cache, "lock", a.spec).code)
	deb := a.Path(a.security(t))
	b, err := os.ReadFile(deb)
	require.NoError(t, err)
	b[len(b)-1] ^= 0xff
	require.NoError(t, os.WriteFile(deb, b, 0o644))
	before, err := os.ReadFile(images.LockPath(a.spec))
	require.NoError(t, err)

	for _, args := range [][]string{{"updates", a.spec}, {"lock", "--update", a.spec}} {
		r := ostalIn(t, cache, args...)
		assert.Equal(t, 1, r.code, args)
		assert.Contains(t, r.stderr, "package ostal-fixture 1.0-1+deb13u99 from "+a.URL+"/debian-security/pool/trixie-security/ostal-fixture_1.0-1+deb13u99_all.deb has sha256 ", args)
		assert.Contains(t, r.stderr, "the mirror serves other bytes than its signed index says", args)
	}
	after, err := os.ReadFile(images.LockPath(a.spec))
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the lock is not touched")
}

func TestLockRefusesATamperedRelease(t *testing.T) {
	a := newFixtureArchive(t)
	a.security(t)
	release := a.Path("debian-security/dists/trixie-security/InRelease")
	b, err := os.ReadFile(release)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(release, []byte(strings.Replace(string(b), "Suite: trixie-security", "Suite: trixie-securitx", 1)), 0o644))

	r := ostalIn(t, testarchive.ReadableTempDir(t), "lock", a.spec)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "ostal lock: "+a.spec+": security_mirror: cannot read suite \"trixie-security\" from \""+a.URL+"/debian-security\": ")
	assert.Contains(t, r.stderr, "signature")
	assert.Contains(t, r.stderr, "that "+a.Keyring+" (security_keyring) holds the key that signs its Release file")
	assert.NoFileExists(t, images.LockPath(a.spec))
}
