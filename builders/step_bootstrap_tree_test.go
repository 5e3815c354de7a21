package builders

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/images"
)

const dpkgStatus = `Package: bash
Essential: yes
Status: install ok installed
Priority: required
Version: 5.2.37-2+b10
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
 Version: not-a-field

Package: old-conffiles
Status: deinstall ok config-files
Version: 1.0

Package: coreutils
Status: install ok installed
Version: 9.7-3
`

func statusTree(t *testing.T, status string) string {
	t.Helper()
	return makeTree(t, map[string]string{"var/lib/dpkg/status": status})
}

func TestCheckInstalled(t *testing.T) {
	bash := images.Package{Name: "bash", Version: "5.2.37-2+b10"}
	coreutils := images.Package{Name: "coreutils", Version: "9.7-3"}
	cases := []struct {
		name string
		want []images.Package
		err  string
	}{
		{"exactly the lock", []images.Package{bash, coreutils}, ""},
		{"locked but not installed", []images.Package{bash, coreutils, {Name: "nginx", Version: "1.26"}},
			`the tree does not hold exactly the locked packages: nginx 1.26 (installed: "")`},
		{"installed but not locked", []images.Package{bash},
			"the tree does not hold exactly the locked packages: coreutils 9.7-3 is installed but not locked"},
		{"other version", []images.Package{{Name: "bash", Version: "5.3-1"}, coreutils},
			`the tree does not hold exactly the locked packages: bash 5.3-1 (installed: "5.2.37-2+b10")`},
		{"config files only is not installed", []images.Package{bash, coreutils, {Name: "old-conffiles", Version: "1.0"}},
			`the tree does not hold exactly the locked packages: old-conffiles 1.0 (installed: "")`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkInstalled(statusTree(t, dpkgStatus), c.want)
			if c.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, c.err)
		})
	}
}

func TestCheckInstalledReportsEveryDifference(t *testing.T) {
	err := checkInstalled(statusTree(t, dpkgStatus), []images.Package{{Name: "bash", Version: "5.3"}, {Name: "nginx", Version: "1"}})
	require.Error(t, err)
	assert.Equal(t, 3, strings.Count(err.Error(), "; ")+1, err.Error())
	for _, part := range []string{`bash 5.3 (installed: "5.2.37-2+b10")`, `nginx 1 (installed: "")`, "coreutils 9.7-3 is installed but not locked"} {
		assert.Contains(t, err.Error(), part)
	}
}

func TestCheckInstalledWithoutStatus(t *testing.T) {
	err := checkInstalled(t.TempDir(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read installed packages: ")
}

func TestLineWriter(t *testing.T) {
	var lines []string
	w := &lineWriter{emit: func(l string) { lines = append(lines, l) }}
	for _, chunk := range []string{"Get:1 copy:", "///repo ./ bash\n\nI: ", "running apt-get update...\n  done  \n", "partial"} {
		n, err := w.Write([]byte(chunk))
		require.NoError(t, err)
		assert.Equal(t, len(chunk), n)
	}
	assert.Equal(t, []string{"Get:1 copy:///repo ./ bash", "I: running apt-get update...", "done"}, lines)
}

func TestMakeRepositoryLinksLockedDebs(t *testing.T) {
	cache := t.TempDir()
	pkgs := []images.Package{lockedPackage("bash", "5.2"), lockedPackage("udev", "257")}
	cacheDebs(t, cache, pkgs...)
	d := &fakeDriver{}
	repo := filepath.Join(t.TempDir(), "repo")
	s := &stepBootstrapTree{CacheDir: cache, Driver: d}
	require.NoError(t, s.makeRepository(t.Context(), repo, pkgs))

	assert.Equal(t, []string{"apt-ftparchive packages .", "apt-ftparchive release ."}, d.commandLines())
	for _, c := range d.commands() {
		assert.Equal(t, repo, c.Dir)
	}
	assert.ElementsMatch(t, []string{"bash_5.2_amd64.deb", "udev_257_amd64.deb", "Packages", "Release"}, dirNames(t, repo))
	b, err := os.ReadFile(filepath.Join(repo, "udev_257_amd64.deb"))
	require.NoError(t, err)
	assert.Equal(t, debContent("udev"), b)

	err = s.makeRepository(t.Context(), filepath.Join(t.TempDir(), "repo"), []images.Package{{Name: "gone", SHA256: strings.Repeat("c", 64), Filename: "pool/g.deb"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the .deb of gone  is not in the cache (open ")
}
