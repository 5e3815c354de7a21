package builders

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fakeKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"

// makeTree writes files (path: content) under a new root; a content
// starting with "->" makes a symlink.
func makeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		if target, ok := strings.CutPrefix(content, "->"); ok {
			require.NoError(t, os.Symlink(target, p))
			continue
		}
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return root
}

func TestScrubRemovesPerMachineAndBuildFiles(t *testing.T) {
	root := makeTree(t, map[string]string{
		"etc/ssh/ssh_host_ed25519_key":              fakeKey,
		"etc/ssh/ssh_host_ed25519_key.pub":          "ssh-ed25519 AAAA root@build",
		"etc/ssh/sshd_config":                       "PermitRootLogin no\n",
		"etc/ssl/private/ssl-cert-snakeoil.key":     fakeKey,
		"etc/resolv.conf":                           "nameserver 10.0.0.1\n",
		"etc/passwd-":                               "root:x:0:0::/root:/bin/sh\n",
		"etc/passwd":                                "root:x:0:0::/root:/bin/sh\n",
		"etc/hostname":                              "tiny\n",
		"var/lib/dbus/machine-id":                   "0123456789abcdef\n",
		"var/lib/apt/lists/deb.debian.org_Packages": "Package: a\n",
		"var/log/apt/history.log":                   "Start-Date: now\n",
		"var/log/dpkg.log":                          "installed\n",
		"var/log/journal/abc/system.journal":        "x",
		"tmp/mmdebstrap.x":                          "x",
		"root/.bash_history":                        "ls\n",
		"usr/share/doc/bash/copyright":              "GPL\n",
		"var/lib/ucf/hashfile.0":                    "0123  /etc/a\n",
		"etc/aliases.db":                            "berkeley",
	})
	n, err := scrub(root)
	require.NoError(t, err)
	assert.Equal(t, 14, n)

	var left []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, strings.TrimPrefix(p, root+"/"))
		}
		return err
	}))
	assert.ElementsMatch(t, []string{"etc/ssh/sshd_config", "etc/passwd", "etc/hostname", "usr/share/doc/bash/copyright"}, left)
	assert.DirExists(t, filepath.Join(root, "var/lib/apt/lists"), "folders packages own stay, empty")
	assert.DirExists(t, filepath.Join(root, "var/log/journal"))
	assert.DirExists(t, filepath.Join(root, "tmp"))
}

func TestFindSecretsAcceptsACleanTree(t *testing.T) {
	root := makeTree(t, map[string]string{
		"etc/shadow":                       "root:*:20000:0:99999:7:::\ndaemon:!:20000::::::\nsshd:!!:20000::::::\nnobody::20000::::::\n",
		"etc/gshadow":                      "root:*::\nadm:!::\n",
		"etc/ssh/ssh_host_ed25519_key.pub": "ssh-ed25519 AAAA",
		// Packaged test keys under /usr are public by nature.
		"usr/share/doc/python3-cryptography/test.pem": fakeKey,
		"usr/lib/python3/dist-packages/x/key.pem":     fakeKey,
		// A link to a key is not a key.
		"etc/ssl/certs/link.pem": "->/usr/share/doc/python3-cryptography/test.pem",
	})
	require.NoError(t, findSecrets(root))
}

func TestFindSecretsRefusesKeysAndHashes(t *testing.T) {
	root := makeTree(t, map[string]string{
		"etc/ssl/private/web.key": "junk before\n" + fakeKey,
		"root/.ssh/id_ed25519":    fakeKey,
		"etc/shadow":              "root:$y$j9T$abc$def:20000:0:99999:7:::\ndaemon:*:20000::::::\nadmin:!$6$salt$hash:20000::::::\n",
		"etc/gshadow":             "sudo:$6$salt$hash::admin\n",
		"usr/share/keys/test.pem": fakeKey,
	})
	err := findSecrets(root)
	require.Error(t, err)
	assert.Equal(t, "the image would contain secrets, which belong on the data volume or are made on first boot: "+
		"/etc/ssl/private/web.key holds a private key; /root/.ssh/id_ed25519 holds a private key; "+
		"/etc/shadow: root has a password hash; /etc/shadow: admin has a password hash; /etc/gshadow: sudo has a password hash; "+
		"remove the file from files:, or add a first-boot unit that creates it", err.Error())
}

func TestFindSecretsOnlyShadowHash(t *testing.T) {
	root := makeTree(t, map[string]string{"etc/shadow": "root:$6$salt$hash:20000:0:99999:7:::\n"})
	err := findSecrets(root)
	require.Error(t, err)
	assert.Contains(t, err.Error(), ": /etc/shadow: root has a password hash; ")
	assert.NotContains(t, err.Error(), "private key")
}

func TestClampAndList(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.Chmod(root, 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(root, "etc"), 0o750))
	require.NoError(t, os.Chmod(filepath.Join(root, "etc"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("hello\n"), 0o640))
	require.NoError(t, os.Chmod(filepath.Join(root, "etc", "hostname"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "empty"), nil, 0o644))
	require.NoError(t, os.Chmod(filepath.Join(root, "etc", "empty"), 0o644))
	require.NoError(t, os.Symlink("etc/hostname", filepath.Join(root, "name")))
	require.NoError(t, os.Symlink("/nonexistent", filepath.Join(root, "dangling")))

	epoch := time.Unix(1795252544, 0)
	listing := filepath.Join(t.TempDir(), "files.txt")
	require.NoError(t, clampAndList(root, epoch, listing))

	for _, p := range []string{"", "etc", "etc/hostname", "etc/empty", "name", "dangling"} {
		fi, err := os.Lstat(filepath.Join(root, p))
		require.NoError(t, err)
		assert.True(t, fi.ModTime().Equal(epoch), "/%s is stamped with the lock's time, not %s", p, fi.ModTime())
	}
	target, err := os.Readlink(filepath.Join(root, "name"))
	require.NoError(t, err)
	assert.Equal(t, "etc/hostname", target)
	fi, err := os.Stat(filepath.Join(root, "etc/hostname"))
	require.NoError(t, err)
	assert.True(t, fi.ModTime().Equal(epoch))

	ids := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	got, err := os.ReadFile(listing)
	require.NoError(t, err)
	assert.Equal(t, ""+
		"/ drwxr-xr-x "+ids+"\n"+
		"/dangling Lrwxrwxrwx "+ids+" -> /nonexistent\n"+
		"/etc drwxr-x--- "+ids+"\n"+
		"/etc/empty -rw-r--r-- "+ids+" 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"+
		"/etc/hostname -rw-r----- "+ids+" 6 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n"+
		"/name Lrwxrwxrwx "+ids+" -> etc/hostname\n", string(got))
}

func TestClampAndListIsStable(t *testing.T) {
	// Two trees with the same content, made in another order, list alike.
	a := makeTree(t, map[string]string{"b/x": "1", "a/y": "2", "c": "->b/x"})
	b := makeTree(t, map[string]string{"c": "->b/x", "a/y": "2", "b/x": "1"})
	for _, r := range []string{a, b} {
		require.NoError(t, os.Chmod(r, 0o755))
	}
	la, lb := filepath.Join(t.TempDir(), "a.txt"), filepath.Join(t.TempDir(), "b.txt")
	require.NoError(t, clampAndList(a, time.Unix(0, 0), la))
	require.NoError(t, clampAndList(b, time.Unix(1e9, 0), lb))
	ba, err := os.ReadFile(la)
	require.NoError(t, err)
	bb, err := os.ReadFile(lb)
	require.NoError(t, err)
	assert.Equal(t, string(ba), string(bb))
}

// Two installs that generated a conffile with different random contents
// leave one hashfile once the image's own file replaces it.
func TestPinUcfHashes(t *testing.T) {
	image := "[mailman]\nsite_owner: postmaster@example.org\n"
	var got []string
	for _, installed := range []string{"5f1c", "9e2a"} {
		root := makeTree(t, map[string]string{
			"etc/mailman3/mailman.cfg": image,
			"var/lib/ucf/hashfile": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  /etc/other.conf\n" +
				installed + "bbbbbbbbbbbbbbbbbbbbbbbbbbbb  /etc/mailman3/mailman.cfg\n",
			"etc/other.conf": "x\n",
		})
		require.NoError(t, pinUcfHashes(root))
		b, err := os.ReadFile(filepath.Join(root, ucfHashfile))
		require.NoError(t, err)
		got = append(got, string(b))
	}
	assert.Equal(t, got[0], got[1], "the same hashfile from both installs")
	assert.Equal(t, "401b30e3b8b5d629635a5c613cdb7919  /etc/other.conf\n"+
		"68133c52f021c401c3ea58bf1cf5f79b  /etc/mailman3/mailman.cfg\n", got[0])
	assert.NoError(t, pinUcfHashes(t.TempDir()), "no ucf, nothing to do")
}
