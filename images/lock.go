package images

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Format 2 records each package's archive (suite, -updates or -security);
// format 1 locks, from the suite alone, are still read.
const lockFormat = "2"

// Lock pins every package of an image to one version and one .deb checksum,
// so that a build installs exactly what was tested. Two package sets are
// locked: the image's own, and the tools ostal runs to make the disk (so
// that the bytes of the image do not depend on the build host).
type Lock struct {
	Path  string
	Suite string
	// Mirror is the suite's; Archives are every archive with its URL and
	// Release date, which a package's Archive names.
	Mirror       string
	Archives     []LockedArchive
	Architecture string
	// ReleaseDate is the newest of the archives' dates.
	ReleaseDate time.Time
	// Requested are the names the spec (or the builder, for tools) asked
	// for; a lock whose requests differ from the spec is stale.
	Requested map[string][]string
	Sets      map[string][]Package
}

// LockedArchive is one archive a lock resolved from.
type LockedArchive struct {
	Suite, URL string
	Date       time.Time
}

// Lock set names.
const (
	SetImage = "image"
	SetTools = "tools"
)

// LockPath is where the lock of a spec lives: beside it, .yaml -> .lock.
func LockPath(spec string) string {
	return strings.TrimSuffix(spec, filepath.Ext(spec)) + ".lock"
}

// SourceDateEpoch is the time every file of the image is stamped with.
func (l *Lock) SourceDateEpoch() int64 { return l.ReleaseDate.Unix() }

// Digest identifies one set's exact content; caches are keyed by it.
func (l *Lock) Digest(set string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", l.Architecture, set)
	for _, p := range l.Sets[set] {
		fmt.Fprintf(h, "%s %s %s\n", p.Name, p.Version, p.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Write renders the lock: one package a line, so that a change of lock
// reads as a plain diff in review.
func (l *Lock) Write(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# ostal lock: every package of the image, pinned. Written by `ostal lock`; do not edit.\n")
	fmt.Fprintf(&b, "format %s\nsuite %s\narchitecture %s\nrelease-date %s\n",
		lockFormat, l.Suite, l.Architecture, l.ReleaseDate.UTC().Format(time.RFC3339))
	for _, a := range l.archives() {
		fmt.Fprintf(&b, "archive %s %s %s\n", a.Suite, a.URL, a.Date.UTC().Format(time.RFC3339))
	}
	for _, set := range []string{SetImage, SetTools} {
		fmt.Fprintf(&b, "request %s %s\n", set, strings.Join(l.Requested[set], " "))
	}
	for _, set := range []string{SetImage, SetTools} {
		fmt.Fprintf(&b, "# %s: %d packages\n", set, len(l.Sets[set]))
		for _, p := range l.Sets[set] {
			ess := "-"
			if p.Essential {
				ess = "essential"
			}
			fmt.Fprintf(&b, "%s %s %s %s %d %d %s %s %s %s\n", set, p.Name, p.Version, p.Arch, p.Size, p.InstalledKiB, ess, p.SHA256, l.ArchiveOf(p), p.Filename)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// archives are the lock's archives; a lock made in memory without them
// has its suite's alone.
func (l *Lock) archives() []LockedArchive {
	if len(l.Archives) > 0 {
		return l.Archives
	}
	return []LockedArchive{{Suite: l.Suite, URL: l.Mirror, Date: l.ReleaseDate}}
}

// ArchiveOf is the suite a locked package comes from.
func (l *Lock) ArchiveOf(p Package) string {
	if p.Archive != "" {
		return p.Archive
	}
	return l.Suite
}

// PackageURL is where a locked .deb is fetched: its archive's mirror as the
// spec names it now (another mirror serves the same checksummed bytes),
// else as the lock recorded it.
func (l *Lock) PackageURL(s *Spec, p Package) string {
	suite := l.ArchiveOf(p)
	base := l.Mirror
	for _, a := range l.archives() {
		if a.Suite == suite {
			base = a.URL
		}
	}
	if s != nil {
		for _, src := range s.Sources() {
			if src.Suite == suite {
				base = src.Mirror
			}
		}
	}
	return strings.TrimRight(base, "/") + "/" + p.Filename
}

// WriteFile writes the lock atomically: a killed `ostal lock` never leaves a
// half lock behind.
func (l *Lock) WriteFile(path string) error {
	var b bytes.Buffer
	if err := l.Write(&b); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write lock: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write lock: %w", err)
	}
	return nil
}

// ReadLock parses a lock file; errors name the line.
func ReadLock(path string) (*Lock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read lock %s: %w (run `ostal lock` to write it)", path, err)
	}
	defer f.Close()
	l := &Lock{Path: path, Requested: map[string][]string{}, Sets: map[string][]Package{}}
	format := ""
	sc := bufio.NewScanner(f)
	n := 0
	bad := func(format string, args ...any) error {
		field := ""
		if n > 0 {
			field = fmt.Sprintf("line %d", n)
		}
		return &FieldError{File: path, Field: field, Problem: fmt.Sprintf(format, args...),
			Hint: "the lock is written by `ostal lock`; run it again instead of editing the file"}
	}
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		switch f[0] {
		case "format":
			if len(f) != 2 || (f[1] != lockFormat && f[1] != "1") {
				return nil, bad("format %q is not %q, the one this ostal reads", strings.Join(f[1:], " "), lockFormat)
			}
			format = f[1]
		case "suite", "mirror", "architecture":
			if len(f) != 2 {
				return nil, bad("%s takes one value", f[0])
			}
			*map[string]*string{"suite": &l.Suite, "mirror": &l.Mirror, "architecture": &l.Architecture}[f[0]] = f[1]
		case "release-date":
			if len(f) != 2 {
				return nil, bad("release-date takes one value")
			}
			if l.ReleaseDate, err = time.Parse(time.RFC3339, f[1]); err != nil {
				return nil, bad("release-date %q: %v", f[1], err)
			}
		case "archive":
			if len(f) != 4 {
				return nil, bad("archive takes a suite, a URL and a date")
			}
			date, err := time.Parse(time.RFC3339, f[3])
			if err != nil {
				return nil, bad("archive %s: date %q: %v", f[1], f[3], err)
			}
			l.Archives = append(l.Archives, LockedArchive{Suite: f[1], URL: f[2], Date: date})
		case "request":
			if len(f) < 2 || (f[1] != SetImage && f[1] != SetTools) {
				return nil, bad("request names no known set")
			}
			l.Requested[f[1]] = f[2:]
		case SetImage, SetTools:
			p, err := parseLockedPackage(f[1:], format)
			if err != nil {
				return nil, bad("%v", err)
			}
			l.Sets[f[0]] = append(l.Sets[f[0]], p)
		default:
			return nil, bad("unknown entry %q", f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read lock %s: %w", path, err)
	}
	if l.Suite == "" || l.ReleaseDate.IsZero() || len(l.Sets[SetImage]) == 0 {
		n = 0
		return nil, bad("suite, release-date or image packages are missing")
	}
	for _, a := range l.Archives {
		if a.Suite == l.Suite {
			l.Mirror = a.URL
		}
	}
	return l, nil
}

// parseLockedPackage reads the fields after the set: name version arch
// size installed-size essential sha256 [archive] pool-path, the archive
// from format 2 on.
func parseLockedPackage(f []string, format string) (Package, error) {
	want := 9
	if format == "1" {
		want = 8
	}
	if len(f) != want {
		return Package{}, fmt.Errorf("a package line has %d fields after the set, found %d", want, len(f))
	}
	size, err1 := strconv.ParseInt(f[3], 10, 64)
	inst, err2 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil {
		return Package{}, fmt.Errorf("package %s: size %q or installed size %q is not a number", f[0], f[3], f[4])
	}
	if _, err := hex.DecodeString(f[6]); err != nil || len(f[6]) != 64 {
		return Package{}, fmt.Errorf("package %s: %q is not a sha256", f[0], f[6])
	}
	p := Package{Name: f[0], Version: f[1], Arch: f[2], Size: size, InstalledKiB: inst,
		Essential: f[5] == "essential", SHA256: f[6], Filename: f[len(f)-1]}
	if format != "1" {
		p.Archive = f[7]
	}
	return p, nil
}

// Requests is the canonical form of a package request: sorted, unique.
func Requests(names []string) []string {
	out := slices.Clone(names)
	sort.Strings(out)
	return slices.Compact(out)
}

// CheckFresh reports a lock that was made for another package request than
// the spec's (or the builder's tools) now make: the build would not install
// what the spec says.
func (l *Lock) CheckFresh(s *Spec, tools []string) error {
	p := &problems{file: l.Path}
	hint := fmt.Sprintf("run `ostal lock %s` to lock the spec as it is now", s.Path)
	if l.Suite != s.Suite || l.Architecture != s.Architecture {
		p.add("suite", hint, "the lock is for %s/%s, the spec asks for %s/%s", l.Suite, l.Architecture, s.Suite, s.Architecture)
	}
	for _, c := range []struct {
		set  string
		want []string
	}{{SetImage, Requests(s.AllPackages())}, {SetTools, Requests(tools)}} {
		added, removed := diffSets(l.Requested[c.set], c.want)
		if len(added)+len(removed) > 0 {
			p.add("request "+c.set, hint, "the lock is stale: since it was written, %s", describeChange(added, removed))
		}
	}
	return p.err()
}

func diffSets(old, now []string) (added, removed []string) {
	for _, n := range now {
		if !slices.Contains(old, n) {
			added = append(added, n)
		}
	}
	for _, o := range old {
		if !slices.Contains(now, o) {
			removed = append(removed, o)
		}
	}
	return added, removed
}

func describeChange(added, removed []string) string {
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "added "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed "+strings.Join(removed, ", "))
	}
	return strings.Join(parts, "; ")
}
