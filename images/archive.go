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

// Archive is a private apt state for the archives of one spec (the
// suite, its -updates and -security) and one architecture, under the cache
// directory: ostal asks apt to download and verify the signed indexes and
// to resolve dependencies, without touching the host's own apt
// configuration.
type Archive struct {
	Arch       string
	Components []string
	Sources    []Source
	dir        string
	// Index holds every package of every source; each records its suite.
	Index *Index
	// Dates are each suite's Release date; ReleaseDate is the newest.
	Dates       map[string]time.Time
	ReleaseDate time.Time
	specPath    string
}

// OpenArchive refreshes the indexes of the spec's archives and parses them.
func OpenArchive(ctx context.Context, cacheDir string, s *Spec) (*Archive, error) {
	parts := []string{s.Architecture, strings.Join(s.Components, ",")}
	for _, src := range s.Sources() {
		parts = append(parts, src.Suite, src.Mirror, src.Keyring)
	}
	key := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	a := &Archive{
		Arch: s.Architecture, Components: s.Components, Sources: s.Sources(), specPath: s.Path,
		dir: filepath.Join(cacheDir, "apt", hex.EncodeToString(key[:8])),
	}
	if err := a.update(ctx); err != nil {
		return nil, err
	}
	if err := a.load(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Archive) update(ctx context.Context) error {
	for _, d := range []string{"etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			return fmt.Errorf("prepare apt state: %w", err)
		}
	}
	p := &problems{file: a.specPath}
	var sources strings.Builder
	for _, src := range a.Sources {
		if _, err := os.Stat(src.Keyring); err != nil {
			hint := "name a keyring file (an exported public key) that signs " + src.Mirror + "'s Release files"
			if src.Keyring == DefaultKeyring {
				hint = "install it with `apt-get install debian-archive-keyring` (make image does this)"
			}
			p.add(src.KeyringField, hint, "the keyring %s is missing", src.Keyring)
		}
		fmt.Fprintf(&sources, "deb [signed-by=%s] %s %s %s\n", src.Keyring, src.Mirror, src.Suite, strings.Join(a.Components, " "))
	}
	if err := p.err(); err != nil {
		return err
	}
	files := map[string]string{
		"var/lib/dpkg/status":  "",
		"etc/apt/sources.list": sources.String(),
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
		return a.updateError(out, err)
	}
	return nil
}

// updateError names the archives apt complained about (a bad signature, a
// missing suite, an unreachable host), each with its spec key.
func (a *Archive) updateError(out []byte, err error) error {
	p := &problems{file: a.specPath}
	var complaints []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E:") || strings.HasPrefix(line, "W:") || strings.HasPrefix(line, "Err:") {
			complaints = append(complaints, strings.TrimSpace(line))
		}
	}
	for _, src := range a.Sources {
		var mine []string
		for _, c := range complaints {
			if strings.Contains(c, src.Mirror+" "+src.Suite+" ") || strings.Contains(c, src.Mirror+"/dists/"+src.Suite+"/") {
				mine = append(mine, c)
			}
		}
		if len(mine) > 0 {
			p.add(src.MirrorField, fmt.Sprintf("check the URL and that this machine reaches it, and that %s (%s) holds the key that signs its Release file",
				src.Keyring, src.KeyringField), "cannot read suite %q from %q: %s", src.Suite, src.Mirror, strings.Join(mine, " / "))
		}
	}
	if perr := p.err(); perr != nil {
		return perr
	}
	return &FieldError{File: a.specPath, Field: "mirror",
		Problem: fmt.Sprintf("apt-get update failed: %v: %s", err, lastLines(out, 4)),
		Hint:    "check the mirror URLs and suite name (e.g. http://deb.debian.org/debian, trixie) and that this machine reaches them"}
}

func (a *Archive) apt(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+filepath.Join(a.dir, "apt.conf"), "LC_ALL=C.UTF-8")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// load parses each suite's Packages files (apt lists them as index
// targets; an empty suite, as -updates is after a point release, has
// none) and reads its Release date.
func (a *Archive) load(ctx context.Context) error {
	out, err := a.apt(ctx, "apt-get", "indextargets", "--format", "$(RELEASE)\t$(FILENAME)", "Created-By: Packages")
	if err != nil {
		return fmt.Errorf("list apt's indexes: %v: %s", err, lastLines(out, 4))
	}
	a.Index = newIndex()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if suite, file, ok := strings.Cut(line, "\t"); ok {
			if err := a.Index.addFile(file, suite); err != nil {
				return err
			}
		}
	}
	a.Dates = map[string]time.Time{}
	for _, src := range a.Sources {
		date, err := a.releaseDateOf(src)
		if err != nil {
			return err
		}
		a.Dates[src.Suite] = date
		if date.After(a.ReleaseDate) {
			a.ReleaseDate = date
		}
	}
	return nil
}

// releaseDateOf reads the date of a suite's InRelease file, which apt
// names after its URL: ..._dists_SUITE_InRelease.
func (a *Archive) releaseDateOf(src Source) (time.Time, error) {
	found, _ := filepath.Glob(filepath.Join(a.dir, "var/lib/apt/lists", "*_dists_"+strings.ReplaceAll(src.Suite, "/", "_")+"_InRelease"))
	if len(found) != 1 {
		return time.Time{}, &FieldError{File: a.specPath, Field: src.MirrorField,
			Problem: fmt.Sprintf("apt kept no signed release file of suite %q from %q", src.Suite, src.Mirror),
			Hint:    "check the suite name and that the archive publishes an InRelease file"}
	}
	rel, err := os.ReadFile(found[0])
	if err != nil {
		return time.Time{}, fmt.Errorf("read release file of %s: %w", src.Suite, err)
	}
	return releaseDate(rel)
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
		p, ok := a.packageAt(u)
		if !ok {
			return nil, fmt.Errorf("apt chose %s, which is not in the parsed indexes", raw)
		}
		pkgs = append(pkgs, *p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	return pkgs, nil
}

// packageAt finds the package apt would download from u: the source whose
// mirror holds u, the first of them that lists that pool path (the suite
// before its -updates, which share a pool).
func (a *Archive) packageAt(u *url.URL) (*Package, bool) {
	for _, src := range a.Sources {
		base := mustPath(src.Mirror) + "/"
		m, err := url.Parse(src.Mirror)
		if err != nil || m.Host != u.Host || !strings.HasPrefix(u.Path, base) {
			continue
		}
		if p, ok := a.Index.ByFilename(src.Suite, strings.TrimPrefix(u.Path, base)); ok {
			return p, true
		}
	}
	return nil, false
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
