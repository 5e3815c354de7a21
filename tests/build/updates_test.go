package build_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/images"
	"github.com/ostal/ostal/internal/testarchive"
)

// TestSecurityUpdateReachesTheImage: the tiny image's security archive is
// replaced by a signed one on loopback (the test's own key, given to the
// spec as security_keyring) that serves Debian's security fixes of today
// and one more, sensible-utils 0.0.25+deb13u99, whose changelog names
// CVE-2026-99999. ostal updates reports it and exits 1, lock --update
// takes it, and the rebuilt image has it. (Tampered indexes and .debs are
// refused in internal/cli's tests, against the same kind of archive.)
func TestSecurityUpdateReachesTheImage(t *testing.T) {
	spec := lockedSpec(t, tinySpec, nil)
	old, err := images.ReadLock(images.LockPath(spec))
	if err != nil {
		t.Fatal(err)
	}
	archive := testarchive.NewServer(t)
	var security []images.Package
	var sensible images.Package
	for _, p := range old.Sets[images.SetImage] {
		switch {
		case images.IsSecurityArchive(old.ArchiveOf(p)):
			security = append(security, p)
		case p.Name == "sensible-utils":
			sensible = p
		}
	}
	if sensible.Name == "" {
		t.Fatal("the tiny image no longer has sensible-utils; pick another small package of its lock")
	}
	debs, err := builders.FetchDebs(context.Background(), sharedCache(), append(security, sensible),
		func(p images.Package) string { return old.PackageURL(nil, p) }, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	const fixed = "0.0.25+deb13u99"
	bumped := testarchive.BumpDeb(t, debs[len(debs)-1], t.TempDir(), fixed, testarchive.ChangelogEntry("sensible-utils", fixed, "trixie-security",
		"Fix CVE-2026-99999, found by ostal's tests (DSA-9999-1)."))
	archive.Publish(t, "debian-security", "trixie-security", append(debs[:len(debs)-1], bumped)...)
	text := readFile(t, spec) + "security_mirror: " + archive.URL + "/debian-security\nsecurity_keyring: " + archive.Keyring + "\n"
	if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	cache := sharedCache()
	code, out, errOut := ostal(t, "updates", "--cache", cache, "--provision", provisionDir, spec)
	want := "security updates (1):\n  sensible-utils " + sensible.Version + " → " + fixed + " (trixie-security): CVE-2026-99999, DSA-9999-1\n"
	if code != 1 || out != want {
		t.Fatalf("ostal updates: exit %d, want 1, and\n%s\nwant\n%s\n%s", code, out, want, errOut)
	}
	code, out, errOut = ostal(t, "lock", "--update", "--cache", cache, "--provision", provisionDir, spec)
	if code != 0 || !strings.Contains(out, "fixes 1 CVEs: CVE-2026-99999\n") {
		t.Fatalf("ostal lock --update: exit %d\n%s\n%s", code, out, errOut)
	}
	m := build(t, spec, cache, t.TempDir())
	for _, p := range m.Packages {
		if p.Name == "sensible-utils" {
			if p.Version != fixed {
				t.Fatalf("the rebuilt image has sensible-utils %s, not %s", p.Version, fixed)
			}
			return
		}
	}
	t.Fatal("the rebuilt image has no sensible-utils")
}
