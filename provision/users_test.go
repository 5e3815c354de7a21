package provision

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each service's own users (issue 11, item 5): every user or group named
// ostal-* in a service's files (binds, moves, pools, units, uWSGI,
// tmpfiles, scripts) is made by a sysusers.d file of that service or of
// base, which every image with services gets; no PHP pool, uWSGI or
// unit runs as nginx's www-data; and every move goes to the owner its
// folder's bind names.
func TestServicesHaveTheirOwnUsers(t *testing.T) {
	declared := func(svc string) map[string]bool {
		names := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join(svc, "rootfs/usr/lib/sysusers.d/*.conf"))
		for _, f := range files {
			for _, line := range lines(t, f) {
				if fs := strings.Fields(line); len(fs) >= 2 && (fs[0] == "u" || fs[0] == "g") {
					names[fs[1]] = true
				}
			}
		}
		return names
	}
	base := declared("base")
	ours := regexp.MustCompile(`\bostal-(wiki|www|lists-web|members)\b`)
	runsAs := regexp.MustCompile(`^\s*(user|group|uid|gid|User|Group)\s*=\s*(\S+)`)
	for _, svc := range append(Names(), "base") {
		mine := declared(svc)
		err := filepath.WalkDir(filepath.Join(svc, "rootfs"), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.Contains(p, "/sysusers.d/") {
				return err
			}
			for _, line := range lines(t, p) {
				for _, name := range ours.FindAllString(line, -1) {
					if !mine[name] && !base[name] && !strings.HasPrefix(strings.TrimSpace(line), "#") {
						if strings.Contains(p, "/etc/ostal/data.d/") || runsAs.MatchString(line) || strings.Contains(line, name+":") || strings.Contains(line, ":"+name) {
							t.Errorf("%s: %q names %s, which no sysusers.d file of %s or base makes", p, line, name, svc)
						}
					}
				}
				if m := runsAs.FindStringSubmatch(line); m != nil && m[2] == "www-data" {
					t.Errorf("%s: %q: only nginx runs as www-data; give the service its own user (sysusers.d)", p, line)
				}
			}
			return nil
		})
		require.NoError(t, err)
	}

	// A move's new owner is the owner its bind folder names.
	owners := map[string]string{}
	binds, _ := filepath.Glob("*/rootfs/etc/ostal/data.d/*.binds")
	for _, f := range binds {
		for _, line := range lines(t, f) {
			if fs := strings.Fields(line); len(fs) == 4 && !strings.HasPrefix(fs[0], "#") {
				owners[fs[0]] = fs[2]
			}
		}
	}
	moves, _ := filepath.Glob("*/rootfs/etc/ostal/data.d/*.moves")
	assert.NotEmpty(t, moves)
	for _, f := range moves {
		for _, line := range lines(t, f) {
			fs := strings.Fields(line)
			if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
				continue
			}
			require.Len(t, fs, 3, "%s: %q", f, line)
			if owner, ok := owners[fs[0]]; ok {
				assert.Equal(t, owner, fs[2], "%s: %s moves to another owner than its bind's", f, fs[0])
			}
		}
	}
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		out = append(out, s.Text())
	}
	return out
}
