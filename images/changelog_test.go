package images

import (
	"reflect"
	"testing"
)

const opensslChangelog = `openssl (3.5.4-1~deb13u2) trixie-security; urgency=medium

  * CVE-2025-9230: out-of-bounds read in RFC 3211 KEK unwrap.
  * CVE-2025-9231, CVE-2025-9232 (DSA-6015-1).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Tue, 30 Sep 2025 21:00:00 +0200

openssl (3.5.4-1~deb13u1) trixie; urgency=medium

  * Rebuild for trixie, fixes CVE-2025-1111.

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Mon, 01 Sep 2025 21:00:00 +0200

openssl (3.5.1-1) unstable; urgency=medium

  * New upstream release; see DLA-4000-1 and CVE-2024-12797.

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Mon, 01 Jul 2025 21:00:00 +0200

Old Changelog:
openssl (0.9.8) stable; urgency=low
`

func TestParseChangelog(t *testing.T) {
	entries := ParseChangelog([]byte(opensslChangelog))
	var versions []string
	for _, e := range entries {
		versions = append(versions, e.Version)
	}
	want := []string{"3.5.4-1~deb13u2", "3.5.4-1~deb13u1", "3.5.1-1", "0.9.8"}
	if !reflect.DeepEqual(versions, want) {
		t.Fatalf("versions %q, want %q", versions, want)
	}
	if entries[0].Text != "* CVE-2025-9230: out-of-bounds read in RFC 3211 KEK unwrap.\n  * CVE-2025-9231, CVE-2025-9232 (DSA-6015-1)." {
		t.Errorf("first entry's text %q", entries[0].Text)
	}
}

func TestFixesSince(t *testing.T) {
	entries := ParseChangelog([]byte(opensslChangelog))
	for _, c := range []struct {
		locked string
		want   Fixes
	}{
		{"3.5.4-1~deb13u1", Fixes{CVEs: []string{"CVE-2025-9230", "CVE-2025-9231", "CVE-2025-9232"}, Advisories: []string{"DSA-6015-1"}}},
		{"3.5.1-1", Fixes{CVEs: []string{"CVE-2025-1111", "CVE-2025-9230", "CVE-2025-9231", "CVE-2025-9232"}, Advisories: []string{"DSA-6015-1"}}},
		{"3.5.0-1", Fixes{CVEs: []string{"CVE-2024-12797", "CVE-2025-1111", "CVE-2025-9230", "CVE-2025-9231", "CVE-2025-9232"},
			Advisories: []string{"DLA-4000-1", "DSA-6015-1"}}},
		{"3.5.4-1~deb13u2", Fixes{}},
	} {
		if got := FixesIn(EntriesSince(entries, c.locked)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("since %s: %+v, want %+v", c.locked, got, c.want)
		}
	}
}

func TestFixesOrderNumbersAsNumbers(t *testing.T) {
	got := FixesIn([]ChangelogEntry{{Text: "CVE-2026-112314 CVE-2026-11850 CVE-2025-99999 CVE-2026-11850 DSA-10000-1 DSA-9999-2 DLA-4000-1"}})
	want := Fixes{CVEs: []string{"CVE-2025-99999", "CVE-2026-11850", "CVE-2026-112314"}, Advisories: []string{"DLA-4000-1", "DSA-9999-2", "DSA-10000-1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
