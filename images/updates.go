package images

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Change is one package whose version in a new lock differs from the old
// lock's: an update, a package a new version needs, or one no longer
// needed.
type Change struct {
	Name string   `json:"name"`
	Arch string   `json:"arch"`
	Sets []string `json:"sets"`          // image, tools or both
	Old  string   `json:"old,omitempty"` // empty: a package the image did not have
	New  string   `json:"new,omitempty"` // empty: no longer installed
	// Archive is where the new version comes from; Security is true when
	// that is the -security archive.
	Archive  string `json:"archive,omitempty"`
	Security bool   `json:"security"`
	Fixes
	// Note says why no fixes are listed where one would expect them.
	Note string `json:"note,omitempty"`
	// Package is the new version as locked (for fetching its .deb).
	Package Package `json:"-"`
}

// DiffLocks lists what changes from old to now, both sets, sorted by
// name; a package changed alike in both sets is listed once.
func DiffLocks(old, now *Lock) []Change {
	byKey := map[string]*Change{}
	var keys []string
	for _, set := range []string{SetImage, SetTools} {
		before := map[string]Package{}
		for _, p := range old.Sets[set] {
			before[p.Name+":"+p.Arch] = p
		}
		add := func(c Change) {
			// NUL sorts before any character of a name: mediawiki
			// comes before mediawiki-classes.
			key := c.Name + "\x00" + c.Arch + " " + c.Old + " " + c.New
			if e, ok := byKey[key]; ok {
				e.Sets = append(e.Sets, set)
				return
			}
			c.Sets = []string{set}
			byKey[key] = &c
			keys = append(keys, key)
		}
		for _, p := range now.Sets[set] {
			q, had := before[p.Name+":"+p.Arch]
			delete(before, p.Name+":"+p.Arch)
			if had && q.Version == p.Version && q.SHA256 == p.SHA256 {
				continue
			}
			archive := now.ArchiveOf(p)
			add(Change{Name: p.Name, Arch: p.Arch, Old: q.Version, New: p.Version, Archive: archive,
				Security: IsSecurityArchive(archive), Package: p})
		}
		for _, q := range before {
			add(Change{Name: q.Name, Arch: q.Arch, Old: q.Version})
		}
	}
	sort.Strings(keys)
	out := make([]Change, len(keys))
	for i, k := range keys {
		out[i] = *byKey[k]
	}
	return out
}

// AddFixes fills each change's CVEs and advisories from the changelog of
// its new .deb: the entries newer than the old version. changelogs holds
// the changelog of each change's new .deb, by package name; a package
// whose doc folder links to another's takes that one's changelog when it
// is updated too, and otherwise says where its changelog is.
func AddFixes(changes []Change, changelogs map[string]*DebChangelog) {
	for i := range changes {
		c := &changes[i]
		switch {
		case c.New == "":
			continue
		case c.Old == "":
			c.Note = "a package the image did not have"
			continue
		}
		cl := changelogs[c.Name]
		if cl == nil {
			c.Note = "no changelog read"
			continue
		}
		entries := cl.Entries
		if len(entries) == 0 && cl.DocLink != "" {
			if other := changelogs[cl.DocLink]; other != nil {
				entries = other.Entries
			} else {
				c.Note = fmt.Sprintf("its doc folder links to %s's, whose .deb holds the changelog", cl.DocLink)
				continue
			}
		}
		if len(entries) == 0 {
			c.Note = "its .deb has no changelog"
			continue
		}
		c.Fixes = FixesIn(EntriesSince(entries, c.Old))
		if c.Security && len(c.CVEs)+len(c.Advisories) == 0 {
			c.Note = "its changelog names no CVE or advisory"
		}
	}
}

// HasSecurity reports whether a security update is among changes.
func HasSecurity(changes []Change) bool {
	for _, c := range changes {
		if c.Security {
			return true
		}
	}
	return false
}

// AllCVEs are the CVE numbers every change fixes, sorted and unique.
func AllCVEs(changes []Change) []string {
	var all []string
	for _, c := range changes {
		all = append(all, c.CVEs...)
	}
	return uniqueSorted(all)
}

// WriteChanges prints changes as a review reads them: security fixes
// first, then the other updates, then what is no longer installed.
func WriteChanges(w io.Writer, changes []Change) {
	groups := []struct {
		title string
		keep  func(Change) bool
	}{
		{"security updates", func(c Change) bool { return c.Security }},
		{"other updates", func(c Change) bool { return !c.Security && c.New != "" }},
		{"no longer installed", func(c Change) bool { return c.New == "" }},
	}
	for _, g := range groups {
		var lines []string
		for _, c := range changes {
			if g.keep(c) {
				lines = append(lines, "  "+c.String())
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "%s (%d):\n%s\n", g.title, len(lines), strings.Join(lines, "\n"))
		}
	}
}

// String is one line: name, old → new version, archive, and what it fixes.
func (c Change) String() string {
	var b strings.Builder
	old := c.Old
	if old == "" {
		old = "(new)"
	}
	if c.New == "" {
		fmt.Fprintf(&b, "%s %s", c.Name, old)
	} else {
		fmt.Fprintf(&b, "%s %s → %s (%s)", c.Name, old, c.New, c.Archive)
	}
	if len(c.Sets) == 1 && c.Sets[0] == SetTools {
		b.WriteString(" [build tool]")
	}
	fixes := append(append([]string(nil), c.CVEs...), c.Advisories...)
	if len(fixes) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(fixes, ", "))
	}
	if c.Note != "" {
		fmt.Fprintf(&b, " (%s)", c.Note)
	}
	return b.String()
}

// CommitMessage is the message of the commit of a new lock: its subject
// names the CVEs fixed (the first few), its body every change.
func CommitMessage(lockPath string, changes []Change) string {
	cves := AllCVEs(changes)
	subject := fmt.Sprintf("%s: Debian's updates, %d packages", lockPath, len(changes))
	switch {
	case len(cves) > 4:
		subject += fmt.Sprintf(", fixing %s and %d more CVEs", strings.Join(cves[:4], ", "), len(cves)-4)
	case len(cves) > 0:
		subject += ", fixing " + strings.Join(cves, ", ")
	}
	var b strings.Builder
	b.WriteString(subject + "\n\nWritten by `ostal lock --update`; the CVEs and advisories are from each new .deb's changelog.\n\n")
	WriteChanges(&b, changes)
	if len(cves) > 0 {
		fmt.Fprintf(&b, "\nCVEs fixed (%d): %s\n", len(cves), strings.Join(cves, " "))
	}
	return b.String()
}
