package checks

import (
	"context"
	"os"
	"path/filepath"
	"slices"
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

// Read-only checks see the machine before any check wrote to it, and a
// check with a Before (no-trace) runs between them and the writing ones.
func TestSelectRunsReadOnlyChecksFirst(t *testing.T) {
	r := testRegistry()
	r.Register(Check{Name: "www.post", Writes: "a post", Run: noop})
	r.Register(Check{Name: "a-writer", Writes: "a file", Run: noop})
	r.Register(Check{Name: "no-trace", Before: noop, Run: noop})
	r.Register(Check{Name: "www.front-page", Run: noop})
	got, err := r.Select(nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"boot", "wiki.edit", "wiki.upload", "www.front-page", "no-trace", "a-writer", "www.post", "shutdown", "persistence"}, names(got))
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
		assert.Len(t, slices.Compact(slices.Sorted(slices.Values(c.Services))), len(c.Services), "%s lists a service twice", c.Name)
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

// The checks known to write say what they leave; the deployer runs every
// other one on production, so a writer that forgot would write there.
func TestDefaultWritersSayWhatTheyWrite(t *testing.T) {
	writers := []string{"wiki.edit", "wiki.upload", "www.post", "www.no-author-email", "www.schema",
		"lists.create", "lists.post", "lists.archive-privacy", "lists.postmaster",
		"files.webdav", "files.anonymous", "dav.calendar", "dav.contacts", "security.users", "persistence"}
	for _, n := range writers {
		c, ok := Default.Lookup(n)
		require.True(t, ok, n)
		assert.False(t, c.ReadOnly(), "%s writes but declares no Writes", n)
	}
	cs, err := Default.Select(nil)
	require.NoError(t, err)
	for _, c := range cs {
		if !slices.Contains(writers, c.Name) {
			assert.True(t, c.ReadOnly(), "%s declares Writes %q: add it to this list, and give its service a read-only check", c.Name, c.Writes)
		}
		assert.Equal(t, strings.TrimSpace(c.Writes), c.Writes, c.Name)
		assert.False(t, strings.HasSuffix(c.Writes, "."), "%s: Writes is a phrase, --list adds it after the summary", c.Name)
	}
}

// Every service that has checks has a read-only one that proves it
// serves: what production gets of it.
func TestEveryServiceKeepsAReadOnlyCheck(t *testing.T) {
	cs, err := Default.Select(nil)
	require.NoError(t, err)
	proofs := map[string][]string{}
	for _, c := range cs {
		for _, s := range c.Services {
			if _, ok := proofs[s]; !ok {
				proofs[s] = nil
			}
			if c.ReadOnly() && !c.Disruptive {
				proofs[s] = append(proofs[s], c.Name)
			}
		}
	}
	for _, s := range []string{"wiki", "www", "lists", "files", "dav", "dns", "tls", "firewall", "ssh"} {
		assert.Contains(t, proofs, s, "no check declares the %s service", s)
	}
	for s, p := range proofs {
		assert.NotEmpty(t, p, "the %s service has no read-only check: production could not check it", s)
	}
	for _, n := range []string{"wiki.main-page", "www.front-page", "lists.index", "lists.roles", "files.login-required", "dav.login-required"} {
		c, ok := Default.Lookup(n)
		require.True(t, ok, n)
		assert.True(t, c.ReadOnly() && !c.Disruptive, n)
		svc, _, _ := strings.Cut(n, ".")
		assert.Contains(t, c.Services, svc, n)
		if n != "lists.roles" { // port 25, not nginx
			assert.Contains(t, c.Services, "tls", "%s goes through nginx", n)
		}
	}
}
