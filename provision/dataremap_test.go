package provision

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDataRemap runs the guest's data-remap (base/) on a folder standing
// in for the data volume, with this image's users in a passwd file: every
// file follows its user and group by name, two users who trade ids are
// not mixed, and a remap cut short in either pass ends right when run
// again.
func TestDataRemap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to other users")
	}
	// This image: list and postfix traded ids, postdrop moved.
	const passwd = "root:x:0:0::/root:/bin/sh\nlist:x:1002:1002::/:/bin/false\npostfix:x:1001:1001::/:/bin/false\n"
	const group = "root:x:0:\nlist:x:1002:\npostfix:x:1001:\npostdrop:x:1010:\n"
	const recorded = "user root 0\nuser list 1001\nuser postfix 1002\ngroup root 0\ngroup list 1001\ngroup postfix 1002\ngroup postdrop 1003\n"
	const current = "user root 0\nuser list 1002\nuser postfix 1001\ngroup root 0\ngroup list 1002\ngroup postfix 1001\ngroup postdrop 1010\n"
	// Only the folders' own owners are known: mailman3 (list) and
	// postfix (root), each in its own folder; the rest stays.
	byFolders := func(before, after string) string {
		if before == "1001:1001" {
			return after
		}
		return before
	}
	// Each file as the last image left it, and as this one must have it.
	files := []remapFile{
		{"mailman3/", "1001:1001", "1002:1002"},
		{"mailman3/lists.db", "1001:1001", "1002:1002"},
		{"postfix/", "0:0", "0:0"},
		{"postfix/active/ABC123", "1002:1002", "1001:1001"},
		{"postfix/maildrop/XYZ", "1002:1003", "1001:1010"},
		{"secrets/wiki-db", "0:1001", "0:1002"},
	}
	cases := []struct {
		name  string
		plan  string // the plan of a run cut short, "" for none
		moved int    // how many files that run had already moved
		ids   string // the recorded ids, "" for none
		want  func(before, after string) string
	}{
		{"ids recorded", "", 0, recorded, func(_, after string) string { return after }},
		{"cut short in pass 1", "pass 1\n", 3, recorded, func(_, after string) string { return after }},
		{"cut short in pass 2", "pass 2\n", 4, recorded, func(_, after string) string { return after }},
		{"no ids yet: by the folders' owners", "", 0, "", byFolders},
		{"used since by an image without data-remap", "", 0, current, byFolders},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			write := func(path, text string) { writeText(t, path, text) }
			makeFiles(t, data, files)
			write(filepath.Join(dir, "passwd"), passwd)
			write(filepath.Join(dir, "group"), group)
			write(filepath.Join(dir, "data.d/lists.binds"), "mailman3 /var/lib/mailman3 list:list 0755\npostfix /var/spool/postfix root:root 0755\n")
			if c.ids != "" {
				write(filepath.Join(data, ".ostal-ids"), c.ids)
			}
			if c.plan != "" {
				// The plan that the recorded ids give, and the first
				// files moved as that pass would have moved them.
				steps := "user list 1001 1002 .\nuser postfix 1002 1001 .\ngroup list 1001 1002 .\ngroup postfix 1002 1001 .\ngroup postdrop 1003 1010 .\n"
				write(filepath.Join(data, ".ostal-remap"), c.plan+steps)
				for _, f := range files[:c.moved] {
					if c.plan == "pass 1\n" {
						chown(t, filepath.Join(data, f.path), temp(f.before))
					} else {
						chown(t, filepath.Join(data, f.path), f.after)
					}
				}
				if c.plan == "pass 2\n" {
					for _, f := range files[c.moved:] {
						chown(t, filepath.Join(data, f.path), temp(f.before))
					}
				}
			}
			cmd := remapCommand(t, dir, data)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			for _, f := range files {
				assert.Equal(t, c.want(f.before, f.after), owner(t, filepath.Join(data, f.path)), "%s\n%s", f.path, out)
			}
			assert.NoFileExists(t, filepath.Join(data, ".ostal-remap"), "the plan is gone once done")
			ids, err := os.ReadFile(filepath.Join(data, ".ostal-ids"))
			require.NoError(t, err)
			assert.Contains(t, string(ids), "user postfix 1001\n", "this image's ids are recorded")

			// And again: nothing to do, nothing changes.
			again := remapCommand(t, dir, data)
			out, err = again.CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Empty(t, strings.TrimSpace(string(out)))
		})
	}
}

// temp is the id a file has between the passes: 3000000000 + the old one.
func temp(ids string) string {
	var u, g int
	fmt.Sscanf(ids, "%d:%d", &u, &g)
	shift := func(id int) int {
		if id == 0 {
			return 0
		}
		return 3000000000 + id
	}
	return fmt.Sprintf("%d:%d", shift(u), shift(g))
}

func chown(t *testing.T, path, ids string) {
	t.Helper()
	var u, g int
	_, err := fmt.Sscanf(ids, "%d:%d", &u, &g)
	require.NoError(t, err)
	require.NoError(t, os.Lchown(path, u, g))
}

func owner(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

// A record that the folders contradict (an image without data-remap ran
// since and moved a folder to its own ids) is not trusted: that folder
// follows its owner, and no other file of the old recorded id moves.
func TestDataRemapStaleRecord(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to other users")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	write := func(path, text string) { writeText(t, path, text) }
	write(filepath.Join(dir, "passwd"), "root:x:0:0::/root:/bin/sh\nlist:x:1002:1002::/:/bin/false\nradicale:x:1001:1001::/:/bin/false\n")
	write(filepath.Join(dir, "group"), "root:x:0:\nlist:x:1002:\nradicale:x:1001:\n")
	write(filepath.Join(dir, "data.d/x.binds"), "mailman3 /var/lib/mailman3 list:list 0755\n")
	// Recorded by the last image with data-remap: list was 1001. The
	// older image since gave list's folder its own id, 1005; radicale's
	// files (1001 in the older image) live elsewhere on the volume.
	write(filepath.Join(data, ".ostal-ids"), "user list 1001\ngroup list 1001\nuser root 0\ngroup root 0\n")
	write(filepath.Join(data, "mailman3/lists.db"), "")
	write(filepath.Join(data, "radicale/calendar.ics"), "")
	chown(t, filepath.Join(data, "mailman3"), "1005:1005")
	chown(t, filepath.Join(data, "mailman3/lists.db"), "1005:1005")
	chown(t, filepath.Join(data, "radicale/calendar.ics"), "1001:1001")
	out, err := remapCommand(t, dir, data).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "are not owned as")
	assert.Equal(t, "1002:1002", owner(t, filepath.Join(data, "mailman3/lists.db")), "%s", out)
	assert.Equal(t, "1001:1001", owner(t, filepath.Join(data, "radicale/calendar.ics")), "the old recorded id is another user's now: %s", out)
}

func remapScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("base/rootfs/usr/lib/ostal/data-remap")
	require.NoError(t, err)
	return p
}

// remapCommand is data-remap on the volume data, with the passwd, group
// and data.d (binds and moves) of dir.
func remapCommand(t *testing.T, dir, data string) *exec.Cmd {
	cmd := exec.Command(remapScript(t), data)
	cmd.Env = append(os.Environ(), "OSTAL_PASSWD="+filepath.Join(dir, "passwd"),
		"OSTAL_GROUP="+filepath.Join(dir, "group"), "OSTAL_BINDS="+filepath.Join(dir, "data.d"))
	return cmd
}

// remapFile is a file (a folder if its path ends in /) on the volume, its
// owner "UID:GID" before data-remap and after.
type remapFile struct{ path, before, after string }

// makeFiles makes the files on the volume data, as they are before.
func makeFiles(t *testing.T, data string, files []remapFile) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(data, f.path)
		if strings.HasSuffix(f.path, "/") {
			require.NoError(t, os.MkdirAll(p, 0o755))
		} else {
			writeText(t, p, f.path)
		}
		chown(t, p, f.before)
	}
}

// writeText writes text as path, making its folders.
func writeText(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
}

// A service that gets a user of its own takes its files from the one it
// shared (data.d/*.moves): on a volume of before, every file of the old
// user and group in the folder goes to the new ones, the others' stay;
// the move is recorded and not made again; a folder still to come is
// moved once it is there (data-setup runs data-remap again after seeding
// it), and a move cut short is made whole at the next run.
func TestDataRemapMoves(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to other users")
	}
	const passwd = "root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/:/bin/false\nostal-wiki:x:996:996::/:/bin/false\nlist:x:38:38::/:/bin/false\nostal-lists-web:x:995:995::/:/bin/false\n"
	const group = "root:x:0:\nwww-data:x:33:\nostal-wiki:x:996:\nlist:x:38:\nostal-lists-web:x:995:\nostal-members:x:994:www-data\n"
	for _, c := range []struct {
		name string
		ids  string // the record of the last boot, "" for none
	}{
		{"ids recorded", "user root 0\nuser www-data 33\nuser list 38\ngroup root 0\ngroup www-data 33\ngroup list 38\n"},
		{"no ids yet", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			write := func(path, text string) { writeText(t, path, text) }
			write(filepath.Join(dir, "passwd"), passwd)
			write(filepath.Join(dir, "group"), group)
			write(filepath.Join(dir, "data.d/wiki.binds"), "wiki-images /var/lib/mediawiki/images ostal-wiki:www-data 0750\n")
			write(filepath.Join(dir, "data.d/base.binds"), "members /var/lib/ostal/members root:ostal-members 0750\n")
			write(filepath.Join(dir, "data.d/lists.binds"), "mailman3 /var/lib/mailman3 list:list 0755\n")
			write(filepath.Join(dir, "data.d/wiki.moves"), "# a comment\nwiki-images www-data:www-data ostal-wiki:www-data\n")
			write(filepath.Join(dir, "data.d/base.moves"), "members root:www-data root:ostal-members\n")
			write(filepath.Join(dir, "data.d/lists.moves"), "mailman3/web www-data:www-data ostal-lists-web:ostal-lists-web\n")
			files := []remapFile{
				{"wiki-images/", "33:33", "996:33"},
				{"wiki-images/a/", "33:33", "996:33"},
				{"wiki-images/a/cat.png", "33:33", "996:33"},
				{"wiki-images/root-made", "0:0", "0:0"},
				{"members/", "0:33", "0:994"},
				{"members/htpasswd", "0:0", "0:0"},
				{"secrets/wiki-db", "0:33", "0:33"}, // its init's to change, not data-remap's
			}
			makeFiles(t, data, files)
			if c.ids != "" {
				write(filepath.Join(data, ".ostal-ids"), c.ids)
			}
			run := func() string {
				out, err := remapCommand(t, dir, data).CombinedOutput()
				require.NoError(t, err, "%s", out)
				return string(out)
			}
			out := run()
			for _, f := range files {
				assert.Equal(t, f.after, owner(t, filepath.Join(data, f.path)), "%s\n%s", f.path, out)
			}
			ids, err := os.ReadFile(filepath.Join(data, ".ostal-ids"))
			require.NoError(t, err)
			assert.Contains(t, string(ids), "moved wiki-images www-data:www-data ostal-wiki:www-data\n")
			assert.NotContains(t, string(ids), "moved mailman3/web", "a folder not there yet is not moved: %s", ids)

			// Done: nothing to say, nothing moves, not even a file
			// www-data makes there since (the older image's way).
			chown(t, filepath.Join(data, "wiki-images/a/cat.png"), "33:33")
			assert.Empty(t, strings.TrimSpace(run()))
			assert.Equal(t, "33:33", owner(t, filepath.Join(data, "wiki-images/a/cat.png")))

			// The folder comes (seeded from the image), and a move is
			// cut short: each is made whole at the next run.
			makeFiles(t, data, []remapFile{{"mailman3/web/", "33:33", ""}, {"mailman3/web/static/", "33:33", ""},
				{"mailman3/web/mailman3web.db", "33:33", ""}})
			chown(t, filepath.Join(data, "mailman3"), "38:38")
			cut := strings.ReplaceAll(string(ids), "moved wiki-images www-data:www-data ostal-wiki:www-data\n", "")
			write(filepath.Join(data, ".ostal-ids"), cut)
			out = run()
			assert.Contains(t, out, "in mailman3/web go to ostal-lists-web:ostal-lists-web")
			for _, p := range []string{"mailman3/web", "mailman3/web/static", "mailman3/web/mailman3web.db"} {
				assert.Equal(t, "995:995", owner(t, filepath.Join(data, p)), "%s\n%s", p, out)
			}
			assert.Equal(t, "38:38", owner(t, filepath.Join(data, "mailman3")), "outside the moved folder")
			assert.Equal(t, "996:33", owner(t, filepath.Join(data, "wiki-images/a/cat.png")), "the move made whole: %s", out)
			assert.Empty(t, strings.TrimSpace(run()))
		})
	}
}

// A move to a user this image lacks is an error that names the file and
// the user; nothing moves.
func TestDataRemapMoveToMissingUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to other users")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeText(t, filepath.Join(dir, "passwd"), "root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/:/bin/false\n")
	writeText(t, filepath.Join(dir, "group"), "root:x:0:\nwww-data:x:33:\n")
	writeText(t, filepath.Join(dir, "data.d/wiki.moves"), "wiki-images www-data:www-data ostal-wiki:www-data\n")
	writeText(t, filepath.Join(data, "wiki-images/cat.png"), "")
	chown(t, filepath.Join(data, "wiki-images/cat.png"), "33:33")
	out, err := remapCommand(t, dir, data).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "wiki.moves: the files of wiki-images go to user ostal-wiki, who does not exist in this image")
	assert.Equal(t, "33:33", owner(t, filepath.Join(data, "wiki-images/cat.png")))
}
