package images

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Package is one binary package as the mirror's Packages index lists it.
type Package struct {
	Name          string
	Version       string
	Arch          string
	Filename      string // path below the mirror, pool/main/...
	Archive       string // the suite whose index lists it: trixie, trixie-security...
	Size          int64
	InstalledKiB  int64
	SHA256        string
	Essential     bool
	Provides      []string
	PriorityLevel string
}

// Index is a parsed Packages file: every version the mirror offers.
type Index struct {
	byName     map[string][]*Package
	byFilename map[string]*Package
	provided   map[string]bool
}

func newIndex() *Index {
	return &Index{byName: map[string][]*Package{}, byFilename: map[string]*Package{}, provided: map[string]bool{}}
}

// ParseIndex reads a Debian Packages file (deb822 stanzas).
func ParseIndex(r io.Reader) (*Index, error) {
	idx := newIndex()
	return idx, idx.parse(r, "")
}

// addFile adds the Packages file of one suite.
func (idx *Index) addFile(path, suite string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read packages index: %w", err)
	}
	defer f.Close()
	return idx.parse(f, suite)
}

func (idx *Index) parse(r io.Reader, suite string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	cur := &Package{Archive: suite}
	flush := func() {
		if cur.Name != "" {
			idx.add(cur)
		}
		cur = &Package{Archive: suite}
	}
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" {
			flush()
			continue
		}
		if text[0] == ' ' || text[0] == '\t' {
			continue // continuation of a multi-line field such as Description
		}
		key, val, ok := strings.Cut(text, ":")
		if !ok {
			return fmt.Errorf("packages index line %d: %q is not a field", line, text)
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Package":
			cur.Name = val
		case "Version":
			cur.Version = val
		case "Architecture":
			cur.Arch = val
		case "Filename":
			cur.Filename = val
		case "Size":
			cur.Size, err = strconv.ParseInt(val, 10, 64)
		case "Installed-Size":
			cur.InstalledKiB, err = strconv.ParseInt(val, 10, 64)
		case "SHA256":
			cur.SHA256 = val
		case "Essential":
			cur.Essential = val == "yes"
		case "Priority":
			cur.PriorityLevel = val
		case "Provides":
			for _, p := range strings.Split(val, ",") {
				name, _, _ := strings.Cut(strings.TrimSpace(p), " ")
				cur.Provides = append(cur.Provides, name)
			}
		}
		if err != nil {
			return fmt.Errorf("packages index line %d: %s: %w", line, key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read packages index: %w", err)
	}
	flush()
	return nil
}

func (idx *Index) add(p *Package) {
	idx.byName[p.Name] = append(idx.byName[p.Name], p)
	idx.byFilename[p.Archive+" "+p.Filename] = p
	for _, v := range p.Provides {
		idx.provided[v] = true
	}
}

// Has reports whether name can be installed: a real or a virtual package.
func (idx *Index) Has(name string) bool {
	return len(idx.byName[name]) > 0 || idx.provided[name]
}

// Names lists every real package name, sorted.
func (idx *Index) Names() []string {
	names := make([]string, 0, len(idx.byName))
	for n := range idx.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Essential lists the names of the Essential:yes packages, sorted: the set
// every Debian system has.
func (idx *Index) Essential() []string {
	var names []string
	for n, ps := range idx.byName {
		for _, p := range ps {
			if p.Essential {
				names = append(names, n)
				break
			}
		}
	}
	sort.Strings(names)
	return names
}

// ByFilename finds the package a suite's index lists at a pool path.
func (idx *Index) ByFilename(suite, path string) (*Package, bool) {
	p, ok := idx.byFilename[suite+" "+path]
	return p, ok
}
