package provision

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInstallRendersTemplatesAndFollowsLinks(t *testing.T) {
	src, root := t.TempDir(), t.TempDir()
	write := func(p, text string, mode os.FileMode) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(src, p), []byte(text), mode))
	}
	write("shared.conf", "shared\n", 0o644)
	write("dav/rootfs/etc/x.conf.tmpl", "server_name {{.Names.dav}};{{if .Has \"wiki\"}} wiki{{end}}\n", 0o644)
	write("dav/rootfs/usr/lib/ostal/run", "#!/bin/sh\n", 0o755)
	require.NoError(t, os.Symlink("../../../shared.conf", filepath.Join(src, "dav/rootfs/etc/shared.conf")))
	site := NewSite("example.org", "host", []string{"tls", "dav"})
	n, err := Install(src, root, site, Selected(site.Services))
	require.NoError(t, err)
	assert.Equal(t, 4, n, "three files and site.json")

	got, _ := os.ReadFile(filepath.Join(root, "etc/x.conf"))
	assert.Equal(t, "server_name dav.example.org;\n", string(got))
	assert.NoFileExists(t, filepath.Join(root, "etc/x.conf.tmpl"))
	info, err := os.Lstat(filepath.Join(root, "etc/shared.conf"))
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular(), "a link in a service folder becomes the file it points to")
	info, _ = os.Stat(filepath.Join(root, "usr/lib/ostal/run"))
	assert.Equal(t, os.FileMode(0o755), info.Mode().Perm())
	js, _ := os.ReadFile(filepath.Join(root, "etc/ostal/site.json"))
	assert.Contains(t, string(js), `"dav": "dav.example.org"`)
}

func TestInstallNamesTheBadTemplate(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "dns/rootfs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "dns/rootfs/zone.tmpl"), []byte("{{.Nope}}"), 0o644))
	_, err := Install(src, t.TempDir(), NewSite("example.org", "h", []string{"dns"}), Selected([]string{"dns"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "install service dns from "+filepath.Join(src, "dns/rootfs"))
	assert.Contains(t, err.Error(), "Nope")
}

func TestSiteNames(t *testing.T) {
	s := NewSite("coop.org", "vm", []string{"www", "lists", "files"})
	assert.Equal(t, []string{"coop.org", "www.coop.org", "listes.coop.org", "files.coop.org"}, s.WebNames())
	assert.Equal(t, "vm.coop.org", s.FQDN)
	assert.Equal(t, "ns1.coop.org", s.Names["ns"])
}
