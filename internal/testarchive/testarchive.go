// Package testarchive serves signed apt archives on loopback for tests:
// a throwaway gpg key, indexes made by apt-ftparchive, and .debs made or
// repackaged with dpkg-deb, so that the lock's signature checks and the
// updates' changelog reading run against an archive the test controls.
package testarchive

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Server is a web server on 127.0.0.1 for the files under Root, whose
// Release files are signed with the key in Keyring.
type Server struct {
	Root, URL, Keyring string
	gnupg              string
}

// Tools are the host programs a Server needs.
var Tools = []string{"gpg", "gpgconf", "apt-ftparchive", "dpkg-deb", "apt-get"}

// NewServer makes a signing key and starts the server; both go away at
// the end of the test. It skips the test where a tool is missing.
func NewServer(t testing.TB) *Server {
	t.Helper()
	for _, tool := range Tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install gpg apt-utils dpkg-dev)", tool)
		}
	}
	dir := ReadableTempDir(t)
	s := &Server{Root: filepath.Join(dir, "www"), Keyring: filepath.Join(dir, "archive-key.gpg"), gnupg: filepath.Join(dir, "g")}
	for _, d := range []string{s.Root, s.gnupg} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(s.Root, 0o755)
	t.Cleanup(func() { s.gpg(nil, "gpgconf", "--kill", "gpg-agent") })
	if err := s.gpg(nil, "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "ostal tests <tests@ostal.invalid>", "ed25519", "sign", "never"); err != nil {
		t.Fatalf("make a signing key: %v", err)
	}
	var key bytes.Buffer
	if err := s.gpg(&key, "gpg", "--batch", "--export"); err != nil {
		t.Fatalf("export the signing key: %v", err)
	}
	writeFile(t, s.Keyring, key.Bytes(), 0o644)
	srv := httptest.NewServer(unconditional(http.FileServer(http.Dir(s.Root))))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// unconditional answers every request in full. A test republishes a
// suite within the second apt last read it; Last-Modified has whole
// seconds, so apt's If-Modified-Since would get "304 Not Modified" and
// keep the old index (a real mirror's Release changes far less often).
func unconditional(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("If-Modified-Since")
		r.Header.Del("If-None-Match")
		r.Header.Del("If-Range")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) gpg(out *bytes.Buffer, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+s.gnupg)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if out != nil {
		cmd.Stdout = out
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, errOut.String())
	}
	return nil
}

// Publish makes suite at URL/base hold exactly debs (none: an empty
// suite), indexed and signed; the .debs go under base/pool/SUITE/.
func (s *Server) Publish(t testing.TB, base, suite string, debs ...string) {
	t.Helper()
	top := filepath.Join(s.Root, base)
	pool := filepath.Join("pool", suite)
	index := filepath.Join(top, "dists", suite, "main", "binary-amd64")
	for _, d := range []string{index, filepath.Join(top, pool)} {
		os.RemoveAll(d)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, deb := range debs {
		b, err := os.ReadFile(deb)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(top, pool, filepath.Base(deb)), b, 0o644)
	}
	packages := run(t, top, "apt-ftparchive", "packages", pool)
	writeFile(t, filepath.Join(index, "Packages"), packages, 0o644)
	release := run(t, top, "apt-ftparchive",
		"-o", "APT::FTPArchive::Release::Suite="+suite, "-o", "APT::FTPArchive::Release::Codename="+suite,
		"-o", "APT::FTPArchive::Release::Architectures=amd64", "-o", "APT::FTPArchive::Release::Components=main",
		"release", filepath.Join("dists", suite))
	dist := filepath.Join(top, "dists", suite)
	writeFile(t, filepath.Join(dist, "Release"), release, 0o644)
	os.Remove(filepath.Join(dist, "InRelease"))
	if err := s.gpg(nil, "gpg", "--batch", "--yes", "--clearsign", "-o", filepath.Join(dist, "InRelease"), filepath.Join(dist, "Release")); err != nil {
		t.Fatalf("sign %s: %v", suite, err)
	}
}

// Path is the file of the archive at rel (below Root), to tamper with.
func (s *Server) Path(rel string) string { return filepath.Join(s.Root, rel) }

// ChangelogEntry is one entry of a Debian changelog.
func ChangelogEntry(pkg, version, dist, change string) string {
	return fmt.Sprintf("%s (%s) %s; urgency=high\n\n  * %s\n\n -- ostal tests <tests@ostal.invalid>  Mon, 30 Nov 2026 12:00:00 +0000\n\n",
		pkg, version, dist, change)
}

// MakeDeb builds a package with no dependencies whose changelog is
// changelog; the .deb is written into dir.
func MakeDeb(t testing.TB, dir, name, version, changelog string) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), name)
	writeFile(t, filepath.Join(tree, "DEBIAN", "control"), []byte(fmt.Sprintf(
		"Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: ostal tests <tests@ostal.invalid>\nPriority: optional\nDescription: a package made by ostal's tests\n",
		name, version)), 0o644)
	writeFile(t, filepath.Join(tree, "usr", "share", "doc", name, "changelog.Debian.gz"), gzipped(t, changelog), 0o644)
	return buildDeb(t, tree, dir, name, version, "all")
}

var versionField = regexp.MustCompile(`(?m)^Version: .*$`)

// BumpDeb repackages the .deb src as version, its changelog starting with
// entry (changelog.Debian.gz, or changelog.gz for a native package) and
// its md5sums updated; the new .deb is written into dir.
func BumpDeb(t testing.TB, src, dir, version, entry string) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "tree")
	run(t, "", "dpkg-deb", "--raw-extract", src, tree)
	control := filepath.Join(tree, "DEBIAN", "control")
	b, err := os.ReadFile(control)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, control, versionField.ReplaceAll(b, []byte("Version: "+version)), 0o644)
	name := strings.TrimSpace(string(run(t, "", "dpkg-deb", "--field", src, "Package")))
	doc := filepath.Join("usr", "share", "doc", name)
	var changelog string
	for _, c := range []string{"changelog.Debian.gz", "changelog.gz"} {
		if _, err := os.Stat(filepath.Join(tree, doc, c)); err == nil {
			changelog = filepath.Join(doc, c)
			break
		}
	}
	if changelog == "" {
		t.Fatalf("%s has no changelog in %s", src, doc)
	}
	old, err := os.ReadFile(filepath.Join(tree, changelog))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if _, err := text.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	content := gzipped(t, entry+text.String())
	writeFile(t, filepath.Join(tree, changelog), content, 0o644)
	sum := md5.Sum(content)
	md5sums := filepath.Join(tree, "DEBIAN", "md5sums")
	if b, err := os.ReadFile(md5sums); err == nil {
		re := regexp.MustCompile(`(?m)^[0-9a-f]{32}  ` + regexp.QuoteMeta(changelog) + `$`)
		writeFile(t, md5sums, re.ReplaceAll(b, []byte(hex.EncodeToString(sum[:])+"  "+changelog)), 0o644)
	}
	arch := strings.TrimSpace(string(run(t, "", "dpkg-deb", "--field", src, "Architecture")))
	return buildDeb(t, tree, dir, name, version, arch)
}

// debEpoch is the date of the changelog entries: dpkg-deb clamps every
// file's time to it, so the same package gives the same .deb at every run,
// and a build test's root tree is cached across runs.
const debEpoch = "1796040000" // Mon, 30 Nov 2026 12:00:00 +0000

func buildDeb(t testing.TB, tree, dir, name, version, arch string) string {
	out := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", name, strings.ReplaceAll(version, ":", "%3a"), arch))
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "--build", tree, out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+debEpoch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build %s: %v: %s", tree, err, b)
	}
	return out
}

func gzipped(t testing.TB, text string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(text))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func run(t testing.TB, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, errOut.String())
	}
	return out.Bytes()
}

func writeFile(t testing.TB, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
}

// ReadableTempDir is a temporary folder that apt's unprivileged download
// user (_apt) can read: Go's are private to their owner.
func ReadableTempDir(t testing.TB) string {
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return dir
}
