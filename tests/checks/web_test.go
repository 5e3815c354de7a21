package checks

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGuestPort(t *testing.T) {
	const d = "cooperative-integrale-toulouse.org"
	for _, c := range []struct {
		addr string
		port int
		err  string
	}{
		{"wiki." + d + ":443", 443, ""},
		{d + ":80", 80, ""},
		{"WWW." + d + ".:443", 443, ""},
		{"files." + d + ":8443", 0, "ports 80 and 443 only"},
		{"example.org:443", 0, "example.org is not a name of " + d},
		{"evil" + d + ":443", 0, "is not a name of"},
		{"127.0.0.1:443", 0, "is not a name of"},
	} {
		port, err := guestPort(d, c.addr)
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, c.addr)
			continue
		}
		require.NoError(t, err, c.addr)
		assert.Equal(t, c.port, port, c.addr)
	}
}

func TestParseSite(t *testing.T) {
	s, err := parseSite(`{"domain":"d.org","hostname":"h","fqdn":"h.d.org","address":"192.0.2.1","address6":"",
		"services":["ssh","dns"],"names":{"wiki":"wiki.d.org","ns":"ns1.d.org"}}`, "D.org.")
	require.NoError(t, err)
	assert.Equal(t, "h.d.org", s.FQDN)
	assert.True(t, s.Has("dns"))
	assert.False(t, s.Has("wiki"))
	n, err := s.Name("wiki")
	require.NoError(t, err)
	assert.Equal(t, "wiki.d.org", n)
	_, err = s.Name("dav")
	assert.EqualError(t, err, `/etc/ostal/site.json has no "dav" in names; it has ns, wiki`)

	_, err = parseSite(`{"domain":"d.org"}`, "e.org")
	assert.EqualError(t, err, "/etc/ostal/site.json serves d.org, but the machine is expected to serve e.org")
	_, err = parseSite(`{"domain":"","services":["ssh"]}`, "")
	assert.EqualError(t, err, "/etc/ostal/site.json lists services ssh but no domain")
	s, err = parseSite(`{"domain":"","services":[]}`, "")
	require.NoError(t, err, "an image without services serves no domain")
	assert.Empty(t, s.Services)
	_, err = parseSite(`nope`, "e.org")
	assert.ErrorContains(t, err, `it starts "nope"`)
}

func TestHideSecrets(t *testing.T) {
	assert.NoError(t, hideSecrets(nil, "x"))
	err := errors.New("PUT failed: 500: bad password Zx81kLmq for check1a2b")
	assert.EqualError(t, hideSecrets(err, "Zx81kLmq", ""), "PUT failed: 500: bad password [secret] for check1a2b")
	assert.Same(t, err, hideSecrets(err, "absent"))
}

func TestSiteURLAndUUID(t *testing.T) {
	assert.Equal(t, "https://files.d.org/check1/a.txt", SiteURL(nil, "files.d.org", "/check1/a.txt"))
	assert.Equal(t, "https://d.org/", SiteURL(nil, "d.org", ""))
	u := newUUID()
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, u)
	assert.NotEqual(t, u, newUUID())
}
