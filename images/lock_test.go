package images

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleLock() *Lock {
	return &Lock{
		Suite: "trixie", Mirror: "http://deb.debian.org/debian", Architecture: "amd64",
		ReleaseDate: time.Date(2026, 11, 30, 0, 22, 33, 0, time.UTC),
		Archives: []LockedArchive{
			{"trixie", "http://deb.debian.org/debian", time.Date(2026, 11, 21, 9, 15, 44, 0, time.UTC)},
			{"trixie-updates", "http://deb.debian.org/debian", time.Date(2026, 11, 29, 20, 1, 2, 0, time.UTC)},
			{"trixie-security", "http://deb.debian.org/debian-security", time.Date(2026, 11, 30, 0, 22, 33, 0, time.UTC)},
		},
		Requested: map[string][]string{
			SetImage: {"linux-image-amd64", "nginx"},
			SetTools: {"e2fsprogs", "mtools"},
		},
		Sets: map[string][]Package{
			SetImage: {
				{Name: "bash", Version: "5.2.37-2+b10", Arch: "amd64", Size: 1500792, InstalledKiB: 7196, Essential: true,
					SHA256: strings.Repeat("a", 64), Archive: "trixie", Filename: "pool/main/b/bash/bash_5.2.37-2+b10_amd64.deb"},
				{Name: "nginx", Version: "1.26.3-3+deb13u2", Arch: "amd64", Size: 600000, InstalledKiB: 1500,
					SHA256: strings.Repeat("b", 64), Archive: "trixie-security", Filename: "pool/updates/main/n/nginx/nginx_1.26.3-3+deb13u2_amd64.deb"},
			},
			SetTools: {
				{Name: "mtools", Version: "4.0.48-1", Arch: "amd64", Size: 200000, InstalledKiB: 600,
					SHA256: strings.Repeat("c", 64), Archive: "trixie", Filename: "pool/main/m/mtools/mtools_4.0.48-1_amd64.deb"},
			},
		},
	}
}

const sampleLockText = "# ostal lock: every package of the image, pinned. Written by `ostal lock`; do not edit.\n" +
	"format 2\nsuite trixie\narchitecture amd64\nrelease-date 2026-11-30T00:22:33Z\n" +
	"archive trixie http://deb.debian.org/debian 2026-11-21T09:15:44Z\n" +
	"archive trixie-updates http://deb.debian.org/debian 2026-11-29T20:01:02Z\n" +
	"archive trixie-security http://deb.debian.org/debian-security 2026-11-30T00:22:33Z\n" +
	"request image linux-image-amd64 nginx\nrequest tools e2fsprogs mtools\n" +
	"# image: 2 packages\n" +
	"image bash 5.2.37-2+b10 amd64 1500792 7196 essential aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa trixie pool/main/b/bash/bash_5.2.37-2+b10_amd64.deb\n" +
	"image nginx 1.26.3-3+deb13u2 amd64 600000 1500 - bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb trixie-security pool/updates/main/n/nginx/nginx_1.26.3-3+deb13u2_amd64.deb\n" +
	"# tools: 1 packages\n" +
	"tools mtools 4.0.48-1 amd64 200000 600 - cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc trixie pool/main/m/mtools/mtools_4.0.48-1_amd64.deb\n"

// A format 1 lock, from before the lock read -updates and -security,
// still reads: every package from the suite, at the mirror.
const formatOneLockText = "format 1\nsuite trixie\nmirror http://deb.debian.org/debian\narchitecture amd64\nrelease-date 2026-11-21T09:15:44Z\n" +
	"request image nginx\nrequest tools mtools\n" +
	"image nginx 1.26.3-3+deb13u1 amd64 600000 1500 - bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb pool/main/n/nginx/nginx_1.26.3-3+deb13u1_amd64.deb\n"

func TestReadFormatOneLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	require.NoError(t, os.WriteFile(path, []byte(formatOneLockText), 0o644))
	l, err := ReadLock(path)
	require.NoError(t, err)
	assert.Equal(t, "http://deb.debian.org/debian", l.Mirror)
	nginx := l.Sets[SetImage][0]
	assert.Equal(t, "trixie", l.ArchiveOf(nginx))
	assert.Equal(t, "http://deb.debian.org/debian/pool/main/n/nginx/nginx_1.26.3-3+deb13u1_amd64.deb", l.PackageURL(nil, nginx))
}

func TestPackageURLFollowsTheArchive(t *testing.T) {
	l := sampleLock()
	nginx := l.Sets[SetImage][1]
	assert.Equal(t, "http://deb.debian.org/debian-security/pool/updates/main/n/nginx/nginx_1.26.3-3+deb13u2_amd64.deb", l.PackageURL(nil, nginx))
	spec := &Spec{Suite: "trixie", Mirror: "http://mirror.example/debian/", SecurityMirror: "http://mirror.example/debian-security"}
	assert.Equal(t, "http://mirror.example/debian-security/pool/updates/main/n/nginx/nginx_1.26.3-3+deb13u2_amd64.deb", l.PackageURL(spec, nginx),
		"the spec's mirror as it is now serves the same checksummed bytes")
	assert.Equal(t, "http://mirror.example/debian/pool/main/b/bash/bash_5.2.37-2+b10_amd64.deb", l.PackageURL(spec, l.Sets[SetImage][0]))
}

func TestLockWriteFormat(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, sampleLock().Write(&b))
	assert.Equal(t, sampleLockText, b.String())
}

func TestLockRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	want := sampleLock()
	require.NoError(t, want.WriteFile(path))
	assert.NoFileExists(t, path+".tmp")

	got, err := ReadLock(path)
	require.NoError(t, err)
	want.Path = path
	assert.Equal(t, want, got)
	assert.Equal(t, int64(1795998153), got.SourceDateEpoch())

	var again bytes.Buffer
	require.NoError(t, got.Write(&again))
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(first), again.String(), "re-writing a read lock gives the same bytes")
}

func TestReadLockCheckedInLocksParse(t *testing.T) {
	for _, p := range []string{"utzqanil.lock", "../tests/images/tiny.lock"} {
		l, err := ReadLock(p)
		require.NoError(t, err, p)
		var b bytes.Buffer
		require.NoError(t, l.Write(&b))
		orig, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, string(orig), b.String(), "%s is in canonical form", p)
	}
}

func TestReadLockErrorsNameTheLine(t *testing.T) {
	hint := "; the lock is written by `ostal lock`; run it again instead of editing the file"
	lines := strings.Split(strings.TrimSuffix(sampleLockText, "\n"), "\n")
	replace := func(n int, with string) string {
		l := append([]string(nil), lines...)
		l[n-1] = with
		return strings.Join(l, "\n") + "\n"
	}
	cases := []struct {
		name, text, want string
	}{
		{"other format", replace(2, "format 3"), `line 2: format "3" is not "2", the one this ostal reads`},
		{"suite with two values", replace(3, "suite trixie forky"), "line 3: suite takes one value"},
		{"bad release date", replace(5, "release-date yesterday"), `line 5: release-date "yesterday": parsing time`},
		{"archive without date", replace(8, "archive trixie-security http://deb.debian.org/debian-security"), "line 8: archive takes a suite, a URL and a date"},
		{"request for no set", replace(9, "request kernel linux"), "line 9: request names no known set"},
		{"package line with 8 fields", replace(12, "image bash 5.2.37-2+b10 amd64 1500792 7196 essential trixie pool/main/b/bash/bash.deb"),
			"line 12: a package line has 9 fields after the set, found 8"},
		{"short sha256", replace(13, "image nginx 1.26.3-3+deb13u1 amd64 600000 1500 - abc123 trixie pool/main/n/nginx/nginx.deb"),
			`line 13: package nginx: "abc123" is not a sha256`},
		{"size not a number", replace(15, "tools mtools 4.0.48-1 amd64 200kB 600 - "+strings.Repeat("c", 64)+" trixie pool/m.deb"),
			`line 15: package mtools: size "200kB" or installed size "600" is not a number`},
		{"unknown entry", replace(14, "pin nginx"), `line 14: unknown entry "pin"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.lock")
			require.NoError(t, os.WriteFile(path, []byte(c.text), 0o644))
			_, err := ReadLock(path)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), path+": "+c.want), "got %q", err)
			assert.True(t, strings.HasSuffix(err.Error(), hint), "got %q", err)
			ps := Problems(err)
			require.Len(t, ps, 1)
			assert.Equal(t, path, ps[0].File)
		})
	}
}

func TestReadLockIncomplete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	require.NoError(t, os.WriteFile(path, []byte("format 1\nsuite trixie\nrelease-date 2026-11-21T09:15:44Z\n"), 0o644))
	_, err := ReadLock(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+": ")
	assert.Contains(t, err.Error(), "suite, release-date or image packages are missing")
}

func TestReadLockMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	_, err := ReadLock(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read lock "+path)
	assert.Contains(t, err.Error(), "(run `ostal lock` to write it)")
}

func TestReadLockRejectsNonHexSHA256(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	text := strings.Replace(sampleLockText, strings.Repeat("a", 64), strings.Repeat("z", 64), 1)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	_, err := ReadLock(path)
	assert.Error(t, err)
}

func freshSpec() *Spec {
	s := &Spec{Path: "images/web.yaml", Name: "web", Packages: []string{"nginx", "linux-image-amd64", "nginx"}}
	ApplyDefaults(s)
	return s
}

var sampleTools = []string{"mtools", "e2fsprogs"}

func TestCheckFreshAcceptsMatchingLock(t *testing.T) {
	l := sampleLock()
	require.NoError(t, l.CheckFresh(freshSpec(), sampleTools), "order and repetition of requests do not matter")
}

func TestCheckFreshReportsChanges(t *testing.T) {
	hint := "; run `ostal lock images/web.yaml` to lock the spec as it is now"
	cases := []struct {
		name   string
		change func(s *Spec, tools *[]string)
		want   string
	}{
		{"package added", func(s *Spec, _ *[]string) { s.Packages = append(s.Packages, "postfix", "knot") },
			"x.lock: request image: the lock is stale: since it was written, added knot, postfix" + hint},
		{"package removed", func(s *Spec, _ *[]string) { s.Packages = []string{"linux-image-amd64"} },
			"x.lock: request image: the lock is stale: since it was written, removed nginx" + hint},
		{"package replaced", func(s *Spec, _ *[]string) { s.Packages = []string{"linux-image-cloud-amd64", "nginx"} },
			"x.lock: request image: the lock is stale: since it was written, added linux-image-cloud-amd64; removed linux-image-amd64" + hint},
		{"tools changed", func(_ *Spec, tools *[]string) { *tools = []string{"e2fsprogs"} },
			"x.lock: request tools: the lock is stale: since it was written, removed mtools" + hint},
		{"suite changed", func(s *Spec, _ *[]string) { s.Suite = "forky" },
			"x.lock: suite: the lock is for trixie/amd64, the spec asks for forky/amd64" + hint},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := sampleLock()
			l.Path = "x.lock"
			s := freshSpec()
			tools := append([]string(nil), sampleTools...)
			c.change(s, &tools)
			err := l.CheckFresh(s, tools)
			require.Error(t, err)
			assert.Equal(t, c.want, err.Error())
		})
	}
}

func TestCheckFreshReportsAllChanges(t *testing.T) {
	l := sampleLock()
	l.Path = "x.lock"
	s := freshSpec()
	s.Suite = "forky"
	s.Packages = []string{"nginx"}
	err := l.CheckFresh(s, nil)
	require.Error(t, err)
	ps := Problems(err)
	require.Len(t, ps, 3)
	assert.Equal(t, []string{"suite", "request image", "request tools"}, []string{ps[0].Field, ps[1].Field, ps[2].Field})
	assert.True(t, strings.HasPrefix(err.Error(), "3 problems:\n  x.lock: suite: "), err.Error())
}

func TestDigest(t *testing.T) {
	a := sampleLock()
	b := sampleLock()
	assert.Equal(t, a.Digest(SetImage), b.Digest(SetImage))
	assert.Len(t, a.Digest(SetImage), 64)
	assert.NotEqual(t, a.Digest(SetImage), a.Digest(SetTools))

	b.Sets[SetImage][1].Version = "1.26.3-3+deb13u3"
	assert.NotEqual(t, a.Digest(SetImage), b.Digest(SetImage), "a new version is a new tree")
	assert.Equal(t, a.Digest(SetTools), b.Digest(SetTools), "the other set is unaffected")

	c := sampleLock()
	c.Sets[SetImage][0].SHA256 = strings.Repeat("d", 64)
	assert.NotEqual(t, a.Digest(SetImage), c.Digest(SetImage), "a rebuilt .deb is a new tree")

	d := sampleLock()
	d.Mirror = "https://mirror.example/debian"
	d.Requested[SetImage] = []string{"nginx"}
	assert.Equal(t, a.Digest(SetImage), d.Digest(SetImage), "only the installed packages count")
}

func TestRequests(t *testing.T) {
	assert.Equal(t, []string{"a", "b", "c"}, Requests([]string{"c", "a", "b", "a"}))
	in := []string{"b", "a"}
	Requests(in)
	assert.Equal(t, []string{"b", "a"}, in, "the input is not reordered")
}
