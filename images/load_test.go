package images

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeSpec writes a spec into a fresh temporary folder and returns its path.
func writeSpec(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.yaml")
	require.NoError(t, os.WriteFile(p, []byte(yaml), 0o644))
	return p
}

func TestLoadAppliesDefaults(t *testing.T) {
	path := filepath.Join("testdata", "minimal.yaml")
	s, err := Load(path)
	require.NoError(t, err)

	assert.Equal(t, &Spec{
		Path:            path,
		Name:            "web",
		Suite:           "trixie",
		Mirror:          "http://deb.debian.org/debian",
		Keyring:         DefaultKeyring,
		SecurityMirror:  DefaultSecurityMirror,
		SecurityKeyring: DefaultKeyring,
		Components:      []string{"main"},
		Architecture:    "amd64",
		Hostname:        "web",
		Packages:        []string{"linux-image-amd64"},
		Files:           []File{{Source: "base/motd", Dest: "/etc/motd", Mode: "0644"}},
		DiskSize:        "4GiB",
		KernelCmdline:   []string{"console=tty0", "console=ttyS0,115200"},
		Compression:     "zstd",
	}, s)
}

func TestLoadKeepsExplicitValues(t *testing.T) {
	path := writeSpec(t, `
name: web
suite: bookworm
mirror: https://mirror.example/debian
components: [main, contrib]
hostname: www
disk_size: 2GiB
compression: zlib
kernel_cmdline: []
files:
  - source: a
    dest: /etc/a
    mode: "0600"
`)
	s, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, "bookworm", s.Suite)
	assert.Equal(t, "https://mirror.example/debian", s.Mirror)
	assert.Equal(t, []string{"main", "contrib"}, s.Components)
	assert.Equal(t, "www", s.Hostname)
	assert.Equal(t, "2GiB", s.DiskSize)
	assert.Equal(t, "zlib", s.Compression)
	assert.Equal(t, "0600", s.Files[0].Mode)
	// An explicit empty list means "no extra kernel arguments", not "defaults".
	assert.Empty(t, s.KernelCmdline)
}

func TestLoadDefaultsDoNotAlias(t *testing.T) {
	a, err := Load(filepath.Join("testdata", "minimal.yaml"))
	require.NoError(t, err)
	a.KernelCmdline[0] = "quiet"
	b, err := Load(filepath.Join("testdata", "minimal.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "console=tty0", b.KernelCmdline[0], "changing one spec must not change the defaults")
}

func TestLoadUnknownKeysAllAtOnceWithHints(t *testing.T) {
	path := filepath.Join("testdata", "typos.yaml")
	_, err := Load(path)
	require.Error(t, err)
	assert.Equal(t, "2 problems:\n"+
		"  testdata/typos.yaml: files[0].mod: unknown key; did you mean \"mode\"?\n"+
		"  testdata/typos.yaml: packagez: unknown key; did you mean \"packages\"?", err.Error())

	ps := Problems(err)
	require.Len(t, ps, 2)
	assert.Equal(t, FieldError{File: path, Field: "files[0].mod", Problem: "unknown key", Hint: `did you mean "mode"?`}, *ps[0])
	assert.Equal(t, FieldError{File: path, Field: "packagez", Problem: "unknown key", Hint: `did you mean "packages"?`}, *ps[1])
}

func TestLoadUnknownKeyWithoutCloseMatchListsKnownKeys(t *testing.T) {
	path := writeSpec(t, "name: web\nflavour: vanilla\nfiles:\n  - source: a\n    dest: /a\n    owner: root\n")
	_, err := Load(path)
	require.Error(t, err)
	ps := Problems(err)
	require.Len(t, ps, 2)
	assert.Equal(t, "files[0].owner", ps[0].Field)
	assert.Equal(t, "known keys are source, dest, mode", ps[0].Hint)
	assert.Equal(t, "flavour", ps[1].Field)
	assert.Equal(t, "known keys are name, suite, mirror, keyring, security_mirror, security_keyring, components, architecture, hostname, domain, services, admin_keys, submission, dns, mail, packages, files, units, masked_units, disk_size, kernel_cmdline, compression", ps[1].Hint)
}

func TestLoadTypeErrorsNameTheField(t *testing.T) {
	path := filepath.Join("testdata", "types.yaml")
	_, err := Load(path)
	require.Error(t, err)
	hint := `quote strings ("0644", "4GiB") and write lists as "- item" lines`
	assert.ElementsMatch(t, []FieldError{
		{File: path, Field: "disk_size", Problem: "expected string, got a list", Hint: hint},
		{File: path, Field: "files[0].mode", Problem: "expected string, got int", Hint: hint},
	}, derefAll(Problems(err)))
	assert.Contains(t, err.Error(), "testdata/types.yaml: disk_size: expected string, got a list; quote strings")
}

func TestLoadTypeAndUnknownKeyProblemsTogether(t *testing.T) {
	path := writeSpec(t, "name: 5\npackagez: [a]\n")
	_, err := Load(path)
	require.Error(t, err)
	fields := []string{}
	for _, p := range Problems(err) {
		fields = append(fields, p.Field)
	}
	assert.Equal(t, []string{"name", "packagez"}, fields)
	assert.Contains(t, err.Error(), "name: expected string, got int")
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read spec "+path+": ")
	assert.Contains(t, err.Error(), "no such file or directory")
	assert.Contains(t, err.Error(), "pass the path of a spec, e.g. images/utzqanil.yaml")
}

func TestLoadInvalidYAML(t *testing.T) {
	path := writeSpec(t, "name: [web\n")
	_, err := Load(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+": not valid YAML: ")
	assert.Contains(t, err.Error(), "line 1")
}

func TestLoadShapeErrorsNameTheField(t *testing.T) {
	for _, yaml := range []string{
		"name: web\nfiles:\n  source: a\n  dest: /a\n",
		"name: web\nfiles:\n  - a\n",
	} {
		_, err := Load(writeSpec(t, yaml))
		require.Error(t, err)
		ps := Problems(err)
		require.Len(t, ps, 1)
		assert.Contains(t, []string{"files", "files[0]"}, ps[0].Field)
		assert.NotContains(t, ps[0].Problem, "source data")
	}
}

func TestLoadScalarWhereListExpectedIsAnError(t *testing.T) {
	path := writeSpec(t, "name: web\npackages: [linux-image-amd64]\nkernel_cmdline: console=ttyS0,115200 quiet\n")
	_, err := Load(path)
	require.Error(t, err)
	ps := Problems(err)
	require.Len(t, ps, 1)
	assert.Equal(t, "kernel_cmdline", ps[0].Field)
}

func derefAll(ps []*FieldError) []FieldError {
	out := make([]FieldError, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}
