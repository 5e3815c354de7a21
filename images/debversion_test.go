package images

import "testing"

// The cases follow dpkg's own rules (deb-version(5)) and the examples of
// its test suite (lib/dpkg/t/t-version.c).
func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.1", -1},
		{"1.10", "1.9", 1},
		{"0:1.0", "1.0", 0},
		{"1:0.1", "2.0", 1},                        // the epoch wins
		{"1.0-1", "1.0-2", -1},                     // then the revision
		{"1.0~rc1", "1.0", -1},                     // a tilde sorts before the end
		{"1.0~rc1", "1.0~rc2", -1},                 //
		{"1.0~~", "1.0~", -1},                      //
		{"1.0", "1.0a", -1},                        // the end before letters
		{"1.0a", "1.0+", -1},                       // letters before other characters
		{"1.0+deb13u1", "1.0", 1},                  // a stable update is newer
		{"3.5.4-1~deb13u1", "3.5.4-1~deb13u2", -1}, //
		{"3.5.4-1~deb13u1", "3.5.4-1", -1},         // a backport is older than the release
		{"2.41.5-0+deb13u1", "2.41.5-0+deb13u99", -1},
		{"5.2.37-2+b10", "5.2.37-2+b9", 1}, // numbers compare as numbers
		{"1.001", "1.1", 0},                // leading zeros do not count
		{"1.2-3-4", "1.2-3-5", -1},         // the revision starts after the last hyphen
		{"1:2.41.5-0+deb13u1", "2.42", 1},
		{"0.0.0", "0.0", 1},
		{"1.0.", "1.0", 1},
	} {
		got := CompareVersions(c.a, c.b)
		if sign(got) != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want sign %d", c.a, c.b, got, c.want)
		}
		if back := CompareVersions(c.b, c.a); sign(back) != -c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want sign %d", c.b, c.a, back, -c.want)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
