package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// DebianKeyring verifies the mirror's Release file; Debian's
// debian-archive-keyring package installs it.
const DebianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// Archive is a private apt state for one mirror, suite and architecture,
// under the cache directory: ostal asks apt to download and verify the
// signed indexes and to resolve dependencies, without touching the host's
// own apt configuration.
type Archive struct {
	Mirror, Suite, Arch string
	Components          []string
	dir                 string
	Index               *Index
	ReleaseDate         time.Time
}

// OpenArchive refreshes the indexes of the spec's mirror and parses them.
func OpenArchive(ctx context.Context, cacheDir string, s *Spec) (*Archive, error) {
	key := sha256.Sum256([]byte(strings.Join([]string{s.Mirror, s.Suite, s.Architecture, strings.Join(s.Components, ",")}, "\n")))
	a := &Archive{
		Mirror: strings.TrimRight(s.Mirror, "/"), Suite: s.Suite, Arch: s.Architecture, Components: s.Components,
		dir: filepath.Join(cacheDir, "apt", hex.EncodeToString(key[:8])),
	}
	if err := a.update(ctx, s.Path); err != nil {
		return nil, err
	}
	if err := a.load(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Archive) update(ctx context.Context, specPath string) error {
	for _, d := range []string{"etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			return fmt.Errorf("prepare apt state: %w", err)
		}
	}
	if _, err := os.Stat(DebianKeyring); err != nil {
		return fmt.Errorf("the Debian archive keyring %s is missing: install it with `apt-get install debian-archive-keyring` (make image does this)", DebianKeyring)
	}
	files := map[string]string{
		"var/lib/dpkg/status":  "",
		"etc/apt/sources.list": fmt.Sprintf("deb [signed-by=%s] %s %s %s\n", DebianKeyring, a.Mirror, a.Suite, strings.Join(a.Components, " ")),
		"apt.conf": fmt.Sprintf("Dir %q;\nDir::State::status %q;\nAPT::Architecture %q;\nAPT::Architectures %q;\n"+
			"APT::Install-Recommends \"false\";\nAcquire::Languages \"none\";\nAcquire::Retries \"3\";\n",
			a.dir+"/", filepath.Join(a.dir, "var/lib/dpkg/status"), a.Arch, a.Arch),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(a.dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("prepare apt state: %w", err)
		}
	}
	out, err := a.apt(ctx, "apt-get", "update", "-q", "-o", "APT::Update::Error-Mode=any")
	if err != nil {
		return &FieldError{File: specPath, Field: "mirror",
			Problem: fmt.Sprintf("cannot read suite %q from %q: %v: %s", a.Suite, a.Mirror, err, lastLines(out, 4)),
			Hint:    "check the mirror URL and suite name (e.g. http://deb.debian.org/debian, trixie) and that this machine reaches it"}
	}
	return nil
}

func (a *Archive) apt(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+filepath.Join(a.dir, "apt.conf"), "LC_ALL=C.UTF-8")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func (a *Archive) load() error {
	lists, err := filepath.Glob(filepath.Join(a.dir, "var/lib/apt/lists/*_Packages"))
	if err != nil || len(lists) == 0 {
		return fmt.Errorf("no Packages index under %s after apt-get update", a.dir)
	}
	sort.Strings(lists)
	var all bytes.Buffer
	for _, l := range lists {
		b, err := os.ReadFile(l)
		if err != nil {
			return fmt.Errorf("read packages index: %w", err)
		}
		all.Write(b)
		all.WriteString("\n")
	}
	if a.Index, err = ParseIndex(&all); err != nil {
		return err
	}
	releases, _ := filepath.Glob(filepath.Join(a.dir, "var/lib/apt/lists/*_InRelease"))
	if len(releases) == 0 {
		return fmt.Errorf("no InRelease file under %s after apt-get update", a.dir)
	}
	rel, err := os.ReadFile(releases[0])
	if err != nil {
		return fmt.Errorf("read release file: %w", err)
	}
	a.ReleaseDate, err = releaseDate(rel)
	return err
}

// releaseDate reads the Date field of a Release file; it becomes the
// SOURCE_DATE_EPOCH of every build from the lock.
func releaseDate(release []byte) (time.Time, error) {
	for _, line := range strings.Split(string(release), "\n") {
		if v, ok := strings.CutPrefix(line, "Date:"); ok {
			t, err := time.Parse(time.RFC1123, strings.TrimSpace(strings.Replace(v, "UTC", "GMT", 1)))
			if err != nil {
				return time.Time{}, fmt.Errorf("release file date %q: %w", strings.TrimSpace(v), err)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("release file has no Date field")
}

// Resolve asks apt which packages an empty system needs to have names
// installed (without Recommends), and returns them with their exact
// versions and checksums from the signed index.
func (a *Archive) Resolve(ctx context.Context, names []string) ([]Package, error) {
	args := append([]string{"install", "--print-uris", "-qq", "-y"}, names...)
	out, err := a.apt(ctx, "apt-get", args...)
	if err != nil {
		return nil, fmt.Errorf("apt cannot install %s together: %s", strings.Join(names, " "), lastLines(out, 8))
	}
	var pkgs []Package
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "'") {
			continue
		}
		raw, _, _ := strings.Cut(line[1:], "'")
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("apt printed a bad URI %q: %w", raw, err)
		}
		path := strings.TrimPrefix(u.Path, mustPath(a.Mirror)+"/")
		p, ok := a.Index.ByFilename(path)
		if !ok {
			return nil, fmt.Errorf("apt chose %s, which is not in the parsed index", path)
		}
		pkgs = append(pkgs, *p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	return pkgs, nil
}

func mustPath(mirror string) string {
	u, err := url.Parse(mirror)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.Path, "/")
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
