package images

import (
	"bufio"
	"bytes"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ChangelogEntry is one version's entry of a debian/changelog.
type ChangelogEntry struct {
	Version string
	Text    string // the change lines, as written
}

var (
	// "openssl (3.5.4-1~deb13u2) trixie-security; urgency=medium"
	changelogHeader = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]* \(([^ )]+)\) [^;]*;`)
	cveRE           = regexp.MustCompile(`CVE-\d{4}-\d{4,}`)
	advisoryRE      = regexp.MustCompile(`\bD[SL]A-\d+(-\d+)?\b`)
)

// ParseChangelog splits a Debian changelog into its entries, newest first
// as the file has them. Lines before the first header are ignored (old
// changelogs end in free-form history).
func ParseChangelog(text []byte) []ChangelogEntry {
	var entries []ChangelogEntry
	var body strings.Builder
	flush := func() {
		if len(entries) > 0 {
			entries[len(entries)-1].Text = strings.TrimSpace(body.String())
		}
		body.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := changelogHeader.FindStringSubmatch(line); m != nil {
			flush()
			entries = append(entries, ChangelogEntry{Version: m[1]})
			continue
		}
		if len(entries) > 0 && !strings.HasPrefix(line, " -- ") {
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	flush()
	return entries
}

// EntriesSince keeps the entries newer than version: what an update from
// version brings.
func EntriesSince(entries []ChangelogEntry, version string) []ChangelogEntry {
	var out []ChangelogEntry
	for _, e := range entries {
		if CompareVersions(e.Version, version) > 0 {
			out = append(out, e)
		}
	}
	return out
}

// Fixes are the CVE numbers and the Debian security advisories (DSA, and
// DLA for LTS) that changelog entries name, each sorted and unique.
type Fixes struct {
	CVEs       []string `json:"cves"`
	Advisories []string `json:"advisories"`
}

// FixesIn collects the CVE and DSA/DLA names of entries.
func FixesIn(entries []ChangelogEntry) Fixes {
	var f Fixes
	for _, e := range entries {
		f.CVEs = append(f.CVEs, cveRE.FindAllString(e.Text, -1)...)
		f.Advisories = append(f.Advisories, advisoryRE.FindAllString(e.Text, -1)...)
	}
	f.CVEs, f.Advisories = uniqueSorted(f.CVEs), uniqueSorted(f.Advisories)
	return f
}

// uniqueSorted orders names such as CVE-2026-9999 and CVE-2026-10000 by
// their numbers, as the security tracker lists them.
func uniqueSorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	sort.Slice(s, func(i, j int) bool { return idLess(s[i], s[j]) })
	out := s[:1]
	for _, v := range s[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}

// idLess compares dash-separated names part by part, numbers as numbers.
func idLess(a, b string) bool {
	pa, pb := strings.Split(a, "-"), strings.Split(b, "-")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		na, errA := strconv.Atoi(pa[i])
		nb, errB := strconv.Atoi(pb[i])
		if errA == nil && errB == nil {
			return na < nb
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}
