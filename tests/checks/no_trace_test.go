package checks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rootedMachine runs the checks' guest commands on this machine, with
// the guest's folders under a temporary root: the real facts commands
// on a small copy of the guest's layout.
type rootedMachine struct {
	Machine
	root string
}

func (m *rootedMachine) Domain() string      { return "example.org" }
func (m *rootedMachine) Note(string, ...any) {}

func (m *rootedMachine) Run(ctx context.Context, command string) (string, error) {
	for _, dir := range []string{"/var/lib/", "/var/mail/", "/etc/ostal/"} {
		command = strings.ReplaceAll(command, dir, m.root+dir)
	}
	out, err := exec.CommandContext(ctx, "bash", "-c", command).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), &commandError{command, string(ee.Stderr)}
	}
	return string(out), err
}

type commandError struct{ command, stderr string }

func (e *commandError) Error() string { return e.command + ": " + e.stderr }

func (m *rootedMachine) write(t *testing.T, path, content string) {
	t.Helper()
	p := filepath.Join(m.root, path)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

// filesAndDAV is a guest with the files and dav services: two members,
// a file, a calendar.
func filesAndDAV(t *testing.T) *rootedMachine {
	m := &rootedMachine{root: t.TempDir()}
	m.write(t, "/etc/ostal/site.json", `{"domain": "example.org", "services": ["ssh", "files", "dav"]}`)
	m.write(t, "/var/lib/ostal/members/htpasswd", "ann:$apr1$x\nbob:$apr1$y\n")
	m.write(t, "/var/lib/ostal/files/ann/notes.txt", "minutes\n")
	require.NoError(t, os.MkdirAll(filepath.Join(m.root, "/var/lib/ostal/files/.upload"), 0o755))
	m.write(t, "/var/lib/radicale/collections/collection-root/ann/cal/event.ics", "BEGIN:VCALENDAR\n")
	return m
}

func TestPublicStateReadsTheGuestsFacts(t *testing.T) {
	m := filesAndDAV(t)
	st, err := readMachineState(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, "ann bob", st["members"])
	assert.Len(t, st["files: folders and files"], 12)
	assert.Len(t, st["dav: collections and items"], 12)
	assert.Len(t, st, 3)
}

func TestPublicStateFailsWhereAFolderIsMissing(t *testing.T) {
	m := filesAndDAV(t)
	require.NoError(t, os.RemoveAll(filepath.Join(m.root, "/var/lib/radicale")))
	_, err := readMachineState(context.Background(), m)
	assert.ErrorContains(t, err, "read what the public sees of dav")
}

// no-trace passes over checks that only read, and fails, naming what
// changed, over one that writes without saying so.
func TestNoTraceFindsAWriteByAReadOnlyCheck(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		between func(t *testing.T, m *rootedMachine)
		changed []string
	}{
		{"reads only", func(t *testing.T, m *rootedMachine) {
			_, err := m.Run(ctx, "cat /var/lib/ostal/files/ann/notes.txt")
			require.NoError(t, err)
		}, nil},
		{"Radicale's cache and an upload under way are no trace", func(t *testing.T, m *rootedMachine) {
			m.write(t, "/var/lib/radicale/collections/collection-root/ann/cal/.Radicale.cache/item/event.ics", "cache")
			m.write(t, "/var/lib/radicale/collections/.Radicale.lock", "")
			m.write(t, "/var/lib/ostal/files/.upload/0000001", "part")
		}, nil},
		{"a file stored", func(t *testing.T, m *rootedMachine) {
			m.write(t, "/var/lib/ostal/files/ann/new.txt", "x")
		}, []string{"files: folders and files"}},
		{"a file made and removed again", func(t *testing.T, m *rootedMachine) {
			m.write(t, "/var/lib/ostal/files/bob/tmp.txt", "x")
			require.NoError(t, os.RemoveAll(filepath.Join(m.root, "/var/lib/ostal/files/bob")))
		}, []string{"files: folders and files"}},
		{"a member and their calendar", func(t *testing.T, m *rootedMachine) {
			m.write(t, "/var/lib/ostal/members/htpasswd", "ann:$apr1$x\nbob:$apr1$y\ncheck1a2b:$apr1$z\n")
			m.write(t, "/var/lib/radicale/collections/collection-root/check1a2b/cal/e.ics", "BEGIN:VCALENDAR\n")
		}, []string{"dav: collections and items", "members"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := filesAndDAV(t)
			nt := noTraceCheck()
			require.NoError(t, nt.Before(ctx, m))
			c.between(t, m)
			err := nt.Run(ctx, m)
			if c.changed == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "one of them writes and must say so in its Writes")
			for _, fact := range c.changed {
				assert.Contains(t, err.Error(), "\n  "+fact+": ")
			}
			assert.Equal(t, len(c.changed), strings.Count(err.Error(), "\n  "), err.Error())
		})
	}
}

// A volume on which no member was ever made has no password file yet.
func TestPublicStateBeforeTheFirstMember(t *testing.T) {
	m := filesAndDAV(t)
	require.NoError(t, os.RemoveAll(filepath.Join(m.root, "/var/lib/ostal/members")))
	st, err := readMachineState(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, "(no password file yet)", st["members"])
}

func TestNoTraceWithoutBeforeFails(t *testing.T) {
	m := filesAndDAV(t)
	nt := noTraceCheck()
	assert.ErrorContains(t, nt.Run(context.Background(), m), "its Before did not run")
	// A failed Before is reported by Run.
	require.NoError(t, os.RemoveAll(filepath.Join(m.root, "/var/lib/ostal/files")))
	assert.Error(t, nt.Before(context.Background(), m))
	assert.ErrorContains(t, nt.Run(context.Background(), m), "before the checks: read what the public sees of")
}

func TestNoTraceOnAnImageWithoutServices(t *testing.T) {
	m := &rootedMachine{root: t.TempDir()}
	nt := noTraceCheck()
	require.NoError(t, nt.Before(context.Background(), m))
	assert.NoError(t, nt.Run(context.Background(), m))
}

// The lists' facts read Mailman's and HyperKitty's SQLite databases
// read-only; HyperKitty's ids show a list made and deleted again.
func TestPublicStateOfTheLists(t *testing.T) {
	if exec.Command("python3", "-c", "import sqlite3").Run() != nil {
		t.Skip("no python3 with sqlite3 here")
	}
	m := &rootedMachine{root: t.TempDir()}
	m.write(t, "/etc/ostal/site.json", `{"domain": "example.org", "services": ["lists"]}`)
	m.write(t, "/var/mail/root", "From x\n")
	sql := func(db, script string) {
		p := filepath.Join(m.root, db)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		out, err := exec.Command("python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()", p, script).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	sql("/var/lib/mailman3/data/mailman.db", `CREATE TABLE mailinglist (id INTEGER PRIMARY KEY, list_id TEXT);
CREATE TABLE member (id INTEGER PRIMARY KEY);
INSERT INTO mailinglist (list_id) VALUES ('membres.listes.example.org'); INSERT INTO member DEFAULT VALUES;`)
	sql("/var/lib/mailman3/web/mailman3web.db", `CREATE TABLE hyperkitty_mailinglist (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);
CREATE TABLE hyperkitty_email (id INTEGER PRIMARY KEY AUTOINCREMENT);
INSERT INTO hyperkitty_mailinglist (name) VALUES ('membres@listes.example.org'); INSERT INTO hyperkitty_email DEFAULT VALUES;`)
	ctx := context.Background()
	st, err := readMachineState(ctx, m)
	require.NoError(t, err)
	assert.Equal(t, publicState{
		"lists: lists": "membres.listes.example.org", "lists: members": "1",
		"lists: archived lists": "membres@listes.example.org", "lists: archived messages": "1",
		"lists: last id of hyperkitty_mailinglist": "1", "lists: last id of hyperkitty_email": "1",
		"lists: bytes in root's mailbox": "7",
	}, st)
	sql("/var/lib/mailman3/web/mailman3web.db", `INSERT INTO hyperkitty_mailinglist (name) VALUES ('check-1a2b3c@listes.example.org');
DELETE FROM hyperkitty_mailinglist WHERE name LIKE 'check-%';`)
	after, err := readMachineState(ctx, m)
	require.NoError(t, err)
	assert.Equal(t, []string{`lists: last id of hyperkitty_mailinglist: "1" before, "2" after`}, st.changes(after))
}

// The facts of the services on MariaDB cannot run here; dash and bash
// must at least read them.
func TestPublicFactsAreShellScripts(t *testing.T) {
	for svc, cmd := range publicFacts {
		for _, sh := range []string{"bash", "dash"} {
			if _, err := exec.LookPath(sh); err != nil {
				continue
			}
			out, err := exec.Command(sh, "-n", "-c", factsPrelude+cmd).CombinedOutput()
			assert.NoError(t, err, "%s: %s: %s", svc, sh, out)
		}
	}
	assert.ElementsMatch(t, []string{"www", "wiki", "lists", "files", "dav"}, keysOf(publicFacts))
}

func keysOf(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	return k
}

func TestPublicStateChanges(t *testing.T) {
	before := publicState{"a": "1", "b": "2", "c": "3"}
	assert.Empty(t, before.changes(publicState{"a": "1", "b": "2", "c": "3"}))
	assert.Equal(t, []string{
		`b: "2" before, "5" after`,
		`c: "3" before, no longer read after`,
		`d: not read before, "4" after`,
	}, before.changes(publicState{"a": "1", "b": "5", "d": "4"}))
	st := publicState{}
	assert.ErrorContains(t, st.parse("no tab here\n"), `the guest printed "no tab here"`)
	require.NoError(t, st.parse("www: users\t2, next id 3\n"))
	assert.Equal(t, "2, next id 3", st["www: users"])
}
