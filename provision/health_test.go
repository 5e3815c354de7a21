package provision

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHealthReport runs the guest's health report (base/) on this host
// with stand-in service checks: every service gets its line, in the
// spec's order, a hung check is cut off and named, a missing data volume
// fails every service but ssh and the firewall, and --json is JSON.
func TestHealthReport(t *testing.T) {
	checks := map[string]string{
		"ssh":   "exit 0",
		"dns":   "printf '%s\\n' 'knot is \"failed\"\\ (journalctl -u knot)' 'second line'; exit 1",
		"wiki":  "sleep 30",
		"www":   "exit 3",
		"lists": "sleep 1; exit 0",
	}
	cases := []struct {
		name      string
		dataError string // the data volume's error, "" when mounted
		want      []string
	}{
		{"data volume mounted", "", []string{
			"ok ssh",
			"ok firewall",
			`FAIL dns: knot is "failed"\ (journalctl -u knot) second line`,
			"FAIL wiki: HEALTHD/wiki did not answer within 2 s",
			"FAIL www: HEALTHD/www failed (exit status 3)",
			"ok lists",
		}},
		{"www kept down by its init", "", []string{
			"ok ssh",
			"ok firewall",
			`FAIL dns: knot is "failed"\ (journalctl -u knot) second line`,
			"FAIL wiki: HEALTHD/wiki did not answer within 2 s",
			"FAIL www: " + wwwDown,
			"ok lists",
		}},
		{"no data volume", "no data volume is mounted at /srv/data", []string{
			"ok ssh",
			"ok firewall",
			"FAIL dns: data volume: no data volume is mounted at /srv/data",
			"FAIL wiki: data volume: no data volume is mounted at /srv/data",
			"FAIL www: data volume: no data volume is mounted at /srv/data",
			"FAIL lists: data volume: no data volume is mounted at /srv/data",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			health, healthD, env := healthFixture(t, checks, c.dataError)
			if strings.Contains(c.name, "kept down") {
				var down string
				for _, e := range env {
					if run, ok := strings.CutPrefix(e, "OSTAL_RUN="); ok {
						down = filepath.Join(run, "ostal", "down")
					}
				}
				require.NoError(t, os.MkdirAll(down, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(down, "www"), []byte(wwwDown+"\n"), 0o644))
			}
			start := time.Now()
			cmd := exec.Command(health)
			cmd.Env = env
			out, err := cmd.Output()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "%s", out)
			assert.Equal(t, 1, exit.ExitCode())
			got := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(out), healthD, "HEALTHD")), "\n")
			assert.Equal(t, c.want, got)
			// Side by side: the hung check and the slow one overlap.
			assert.Less(t, time.Since(start), 2500*time.Millisecond+time.Second)

			cmd = exec.Command(health, "--json")
			cmd.Env = env
			out, _ = cmd.Output()
			var report []struct {
				Service string `json:"service"`
				OK      bool   `json:"ok"`
				Reason  string `json:"reason"`
			}
			require.NoError(t, json.Unmarshal(out, &report), "%s", out)
			require.Len(t, report, len(c.want))
			for i, line := range c.want {
				name, reason, failed := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(line, "ok "), "FAIL "), ": ")
				assert.Equal(t, name, report[i].Service)
				assert.Equal(t, !failed && strings.HasPrefix(line, "ok "), report[i].OK, line)
				assert.Equal(t, reason, strings.ReplaceAll(report[i].Reason, healthD, "HEALTHD"))
			}
		})
	}
	t.Run("still starting", func(t *testing.T) {
		health, _, env := healthFixture(t, map[string]string{"ssh": "touch ran"}, "")
		cmd := exec.Command(health)
		cmd.Env, cmd.Dir = append(env, "OSTAL_TEST_BOOTING=1"), t.TempDir()
		out, err := cmd.Output()
		require.Error(t, err)
		assert.Equal(t, "FAIL boot: the machine is still starting its services (multi-user.target not reached); starting: mailman3.service ostal-wiki-init.service\n", string(out))
		assert.NoFileExists(t, filepath.Join(cmd.Dir, "ran"), "no service check runs while the machine starts")
		cmd = exec.Command(health, "--json")
		cmd.Env = append(env, "OSTAL_TEST_BOOTING=1")
		out, _ = cmd.Output()
		var report []struct {
			Service string `json:"service"`
			OK      bool   `json:"ok"`
		}
		require.NoError(t, json.Unmarshal(out, &report), "%s", out)
		assert.Equal(t, "boot", report[0].Service)
		assert.False(t, report[0].OK)
	})
	t.Run("wait until healthy", func(t *testing.T) {
		// ssh comes up a second and a half in: one call waits for it.
		health, _, env := healthFixture(t, map[string]string{"ssh": `[ -e "$OSTAL_RUN/up" ] || { echo "sshd is activating"; exit 1; }`}, "")
		var run string
		for _, e := range env {
			if v, ok := strings.CutPrefix(e, "OSTAL_RUN="); ok {
				run = v
			}
		}
		go func() {
			time.Sleep(1500 * time.Millisecond)
			os.WriteFile(filepath.Join(run, "up"), nil, 0o644)
		}()
		start := time.Now()
		cmd := exec.Command(health, "--wait", "20")
		cmd.Env = env
		out, err := cmd.Output()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, "ok ssh\nok firewall\nok dns\nok wiki\nok www\nok lists\n", string(out))
		assert.Less(t, time.Since(start), 10*time.Second, "it answered once every service was healthy, not at the end of the wait")
	})
	t.Run("wait gives up", func(t *testing.T) {
		health, _, env := healthFixture(t, map[string]string{"ssh": "echo sshd is failed; exit 1"}, "")
		start := time.Now()
		cmd := exec.Command(health, "--wait", "2", "--json")
		cmd.Env = env
		out, err := cmd.Output()
		require.Error(t, err)
		assert.GreaterOrEqual(t, time.Since(start), 2*time.Second)
		assert.Contains(t, string(out), `{"service": "ssh", "ok": false, "reason": "sshd is failed"}`)
		assert.Equal(t, 1, strings.Count(string(out), "\n"), "only the last answer: %s", out)
	})
	t.Run("wait ends on a refused data volume", func(t *testing.T) {
		health, _, env := healthFixture(t, map[string]string{"ssh": "exit 0"}, "the data volume is full")
		start := time.Now()
		cmd := exec.Command(health, "--wait", "30")
		cmd.Env = env
		out, err := cmd.Output()
		require.Error(t, err)
		assert.Less(t, time.Since(start), 10*time.Second, "a refused volume does not heal by waiting")
		assert.Contains(t, string(out), "FAIL dns: data volume: the data volume is full")
	})
	t.Run("bad arguments", func(t *testing.T) {
		health, _, env := healthFixture(t, map[string]string{"ssh": "exit 0"}, "")
		for _, args := range [][]string{{"--wait", "soon"}, {"--wait"}, {"--verbose"}} {
			cmd := exec.Command(health, args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "%v: %s", args, out)
			assert.Equal(t, 2, exit.ExitCode(), "%v", args)
			assert.Contains(t, string(out), "health", "%v", args)
		}
	})
	t.Run("all ok", func(t *testing.T) {
		health, _, env := healthFixture(t, map[string]string{"ssh": "exit 0"}, "")
		cmd := exec.Command(health)
		cmd.Env = env
		out, err := cmd.Output()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, "ok ssh\nok firewall\nok dns\nok wiki\nok www\nok lists\n", string(out))
	})
}

// wwwDown is what the schema guard (base/.../schema) says of a service
// it keeps down.
const wwwDown = "www stays down: its data on the data volume were upgraded by a newer image (wordpress-db 60421, in /srv/data/.ostal-schema/www)"

// healthFixture renders the health report for a site with six services,
// writes the given checks as scripts, and stands in for systemctl, which
// answers for ostal-data.service only.
func healthFixture(t *testing.T, checks map[string]string, dataError string) (health, healthD string, env []string) {
	t.Helper()
	dir := t.TempDir()
	text, err := os.ReadFile("base/rootfs/usr/lib/ostal/health.tmpl")
	require.NoError(t, err)
	site := NewSite("example.org", "vm", []string{"ssh", "firewall", "dns", "wiki", "www", "lists"})
	script, err := render("health.tmpl", text, site)
	require.NoError(t, err)
	health = filepath.Join(dir, "health")
	require.NoError(t, os.WriteFile(health, script, 0o755))
	healthD = filepath.Join(dir, "health.d")
	require.NoError(t, os.Mkdir(healthD, 0o755))
	for name, body := range checks {
		require.NoError(t, os.WriteFile(filepath.Join(healthD, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	}
	run := filepath.Join(dir, "run")
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(run, 0o755))
	require.NoError(t, os.Mkdir(bin, 0o755))
	active := "active"
	if dataError != "" {
		active = "failed"
		require.NoError(t, os.WriteFile(filepath.Join(run, "ostal-data.error"), []byte(dataError+"\n"), 0o644))
	}
	// systemctl as the health report asks it: is-active [-q] UNIT and
	// list-jobs; multi-user.target is reached unless OSTAL_TEST_BOOTING.
	systemctl := `#!/bin/bash
case "$1 ${@: -1}" in
"list-jobs "*) printf '%s\n' "12 mailman3.service start running" "14 postfix.service start waiting" "15 ostal-wiki-init.service start running" ;;
"is-active multi-user.target") [ -z "${OSTAL_TEST_BOOTING:-}" ] ;;
"is-active ostal-data.service") [ "$2" = -q ] || echo ` + active + `; [ ` + active + ` = active ] ;;
*) exit 2 ;;
esac
`
	require.NoError(t, os.WriteFile(filepath.Join(bin, "systemctl"), []byte(systemctl), 0o755))
	env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"),
		"OSTAL_HEALTH_D="+healthD, "OSTAL_RUN="+run, "OSTAL_HEALTH_TIMEOUT=2")
	return health, healthD, env
}
