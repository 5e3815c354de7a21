package checks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/provision"
)

func noop(context.Context, Machine) error { return nil }

func testRegistry() *Registry {
	r := &Registry{}
	r.Register(Check{Name: "shutdown", Disruptive: true, Run: noop})
	r.Register(Check{Name: "wiki.edit", Run: noop})
	r.Register(Check{Name: "wiki.upload", Run: noop})
	r.Register(Check{Name: "persistence", Disruptive: true, Run: noop})
	r.Register(Check{Name: "boot", Run: noop})
	return r
}

func names(cs []Check) []string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return n
}

func TestSelect(t *testing.T) {
	r := testRegistry()
	for _, c := range []struct {
		globs []string
		want  []string
	}{
		{nil, []string{"boot", "wiki.edit", "wiki.upload", "shutdown", "persistence"}},
		{[]string{"wiki.*"}, []string{"wiki.edit", "wiki.upload"}},
		{[]string{"wiki"}, []string{"wiki.edit", "wiki.upload"}},
		{[]string{"persistence", "boot"}, []string{"boot", "persistence"}},
		{[]string{"b*", "boot"}, []string{"boot"}},
	} {
		got, err := r.Select(c.globs)
		require.NoError(t, err, c.globs)
		assert.Equal(t, c.want, names(got), c.globs)
	}
}

func TestSelectUnknownNamesTheChecks(t *testing.T) {
	_, err := testRegistry().Select([]string{"wikki"})
	assert.EqualError(t, err, `no check is named "wikki"; the checks are: boot, persistence, shutdown, wiki.edit, wiki.upload`)
	_, err = testRegistry().Select([]string{"[a"})
	assert.ErrorContains(t, err, `check pattern "[a"`)
}

func TestRegisterTwicePanics(t *testing.T) {
	r := testRegistry()
	assert.PanicsWithValue(t, `checks: "boot" is registered twice`, func() { r.Register(Check{Name: "boot", Run: noop}) })
}

func TestRegisterUnknownServicePanics(t *testing.T) {
	r := testRegistry()
	assert.PanicsWithValue(t,
		`checks: "mail.send" needs the service "mail", which is not in provision.Services (`+strings.Join(provision.Names(), ", ")+`)`,
		func() { r.Register(Check{Name: "mail.send", Services: []string{"lists", "mail"}, Run: noop}) })
	assert.NotContains(t, r.Names(), "mail.send")
}

func TestMissingServices(t *testing.T) {
	for _, c := range []struct {
		needs, have, want []string
	}{
		{nil, nil, nil},
		{nil, []string{"wiki", "tls"}, nil},
		{[]string{"wiki", "tls"}, []string{"ssh", "tls", "wiki"}, nil},
		{[]string{"wiki", "tls"}, []string{"tls"}, []string{"wiki"}},
		{[]string{"wiki", "tls"}, []string{"wiki"}, []string{"tls"}},
		{[]string{"wiki", "tls"}, nil, []string{"wiki", "tls"}},
		// The name does not count: only what the check declares.
		{[]string{"lists"}, []string{"wikis", "list"}, []string{"lists"}},
	} {
		got := Check{Name: "x", Services: c.needs}.MissingServices(c.have)
		assert.Equal(t, c.want, got, "needs %v, has %v", c.needs, c.have)
	}
}

// A check named after a service (dav.calendar) must say it needs that
// service: the harness goes by Services alone, and a forgotten one would
// run the check on an image that cannot pass it.
func TestDefaultChecksDeclareTheirService(t *testing.T) {
	cs, err := Default.Select(nil)
	require.NoError(t, err)
	for _, c := range cs {
		for _, s := range c.Services {
			assert.Contains(t, provision.Services, s, c.Name)
		}
		svc, _, dotted := strings.Cut(c.Name, ".")
		if _, ok := provision.Services[svc]; ok && dotted {
			assert.Contains(t, c.Services, svc, "%s does not declare the %s service", c.Name, svc)
		}
	}
	for _, n := range []string{"boot", "ssh", "no-secrets", "persistence", "shutdown"} {
		for _, c := range cs {
			if c.Name == n {
				assert.Empty(t, c.Services, "%s runs on every image", n)
			}
		}
	}
}

func TestDefaultHasTheSystemChecks(t *testing.T) {
	for _, n := range []string{"boot", "ssh", "no-secrets", "persistence", "shutdown"} {
		assert.Contains(t, Default.Names(), n)
	}
}

func TestScanTree(t *testing.T) {
	tree := t.TempDir()
	write := func(p, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(tree, p), []byte(content), 0o600))
	}
	write("/etc/machine-id", "")
	write("/etc/shadow", "root:*:1:::::\nbob:$y$j9T$abc:1:::::\nann:!$6$x:1:::::\n")
	write("/etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 AAAA")
	write("/root/key", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
	write("/etc/ok.conf", "nothing\n")
	found, err := scanTree(tree)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{
		"/etc/shadow: a password hash for bob", "/etc/shadow: a password hash for ann",
		"/etc/ssh/ssh_host_ed25519_key.pub: an SSH host key", "/root/key: a private key",
	}, found)
	write("/etc/machine-id", "0123456789abcdef0123456789abcdef\n")
	found, err = scanTree(tree)
	require.NoError(t, err)
	assert.Contains(t, found, "/etc/machine-id: a machine-id")
}
