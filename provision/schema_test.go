package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSchemaGuard runs the services' real inits (www-init, wiki-init,
// lists-init) on this host, their paths moved into a folder and the
// programs they start stood in for, on a data volume whose schema stamp
// is missing, older, equal or newer than the image's: only a newer one
// stops the init before any upgrade code, leaves the stamp as it is and
// keeps the service down, which the health report then says.
func TestSchemaGuard(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg is not installed (its version order decides)")
	}
	type service struct {
		name, script string
		want         string // the image's stamp
		older, newer string // stamps
		upgrade      string // what the upgrade code's stand-in logs
		// parts are the init's runs at a boot, in order (lists-init's
		// core, then web: both check the stamp); none is one run, no
		// argument.
		parts []string
	}
	lists := "mailman3 3.3.10-1\nmailman3-web 0+20200530-2.3\npython3-django 3:4.2.21-1\npython3-django-hyperkitty 1.3.12-1"
	services := []service{
		{"www", "www/rootfs/usr/lib/ostal/www-init", "wordpress-db 58975", "wordpress-db 57155", "wordpress-db 60421",
			"php www-setup.php", nil},
		{"wiki", "wiki/rootfs/usr/lib/ostal/wiki-init", "mediawiki 1.43.1", "mediawiki 1.39.10", "mediawiki 1.43.1+git1",
			"php run.php update", nil},
		{"lists", "lists/rootfs/usr/lib/ostal/lists-init.tmpl", lists,
			strings.Replace(lists, "python3-django 3:4.2.21-1", "python3-django 3:4.2.20-1", 1),
			strings.Replace(lists, "mailman3 3.3.10-1", "mailman3 3.3.10-1+deb13u1", 1),
			"runuser lists-web-init", []string{"core", "web"}},
	}
	for _, svc := range services {
		for _, c := range []struct {
			name, stamp string
			refused     bool
		}{{"no stamp", "", false}, {"older stamp", svc.older, false}, {"equal stamp", svc.want, false}, {"newer stamp", svc.newer, true}} {
			t.Run(svc.name+"/"+c.name, func(t *testing.T) {
				health, _, env := healthFixture(t, map[string]string{"ssh": "exit 0", svc.name: "exit 0"}, "")
				var run string
				for _, e := range env {
					if r, ok := strings.CutPrefix(e, "OSTAL_RUN="); ok {
						run = r
					}
				}
				fx := initFixture(t, svc.script, svc.want)
				stampFile := filepath.Join(fx, "data", ".ostal-schema", svc.name)
				if c.stamp != "" {
					require.NoError(t, os.MkdirAll(filepath.Dir(stampFile), 0o755))
					require.NoError(t, os.WriteFile(stampFile, []byte(c.stamp+"\n"), 0o644))
				}
				initEnv := append(env, "OSTAL_DATA="+filepath.Join(fx, "data"), "FX="+fx,
					"PATH="+filepath.Join(fx, "bin")+":"+os.Getenv("PATH"))
				runInit := func() ([]byte, error) {
					parts := svc.parts
					if parts == nil {
						parts = []string{""}
					}
					var all []byte
					for _, part := range parts {
						cmd := exec.Command(filepath.Join(fx, "init"))
						if part != "" {
							cmd.Args = append(cmd.Args, part)
						}
						cmd.Env = initEnv
						out, err := cmd.CombinedOutput()
						all = append(all, out...)
						if err != nil {
							return all, err
						}
					}
					return all, nil
				}
				out, err := runInit()
				ran, _ := os.ReadFile(filepath.Join(fx, "ran"))
				stamp, _ := os.ReadFile(stampFile)
				down, _ := os.ReadFile(filepath.Join(run, "ostal", "down", svc.name))
				hcmd := exec.Command(health)
				hcmd.Env = env
				report, _ := hcmd.Output()
				if !c.refused {
					require.NoError(t, err, "%s", out)
					assert.Contains(t, string(ran), svc.upgrade, "the upgrade code runs")
					assert.Equal(t, svc.want+"\n", string(stamp), "stamped with the image's version")
					assert.Empty(t, down)
					assert.Contains(t, string(report), "ok "+svc.name+"\n")
					leftovers, _ := filepath.Glob(stampFile + ".*")
					assert.Empty(t, leftovers, "no temporary file left")
					// Run again: the same stamp, nothing else written.
					out, err = runInit()
					require.NoError(t, err, "%s", out)
					stamp2, _ := os.ReadFile(stampFile)
					assert.Equal(t, string(stamp), string(stamp2))
					return
				}
				require.Error(t, err, "%s", out)
				assert.NotContains(t, string(ran), svc.upgrade, "no upgrade code runs on newer data")
				assert.Equal(t, c.stamp+"\n", string(stamp), "the stamp is left as it is")
				newer := strings.Fields(strings.Split(diffLine(c.stamp, svc.want), "\n")[0])
				for _, s := range []string{svc.name + " stays down", newer[0] + " " + newer[1], "this image has " + newer[0] + " ",
					"ostal deploy rollback ENV --restore-data", "Deploy the newer image again"} {
					assert.Contains(t, string(out), s, "the journal says why and how to fix it")
					assert.Contains(t, string(down), s)
				}
				assert.Contains(t, string(report), "FAIL "+svc.name+": "+svc.name+" stays down: its data on the data volume were upgraded by a newer image")
			})
		}
	}
}

// diffLine is the first line of a that b lacks.
func diffLine(a, b string) string {
	for _, l := range strings.Split(a, "\n") {
		if !strings.Contains("\n"+b+"\n", "\n"+l+"\n") {
			return l
		}
	}
	return ""
}

// initFixture copies a service's init into a folder, its paths moved
// there, with stand-ins for the programs it starts: the upgrade code's
// write what ran to $FX/ran. want is the image's schema, which the
// stand-in package files and dpkg-query give.
func initFixture(t *testing.T, script, want string) string {
	t.Helper()
	fx := t.TempDir()
	text, err := os.ReadFile(script)
	require.NoError(t, err)
	if strings.HasSuffix(script, ".tmpl") {
		text, err = render(filepath.Base(script), text, NewSite("example.org", "vm", []string{"lists"}))
		require.NoError(t, err)
	}
	lib := filepath.Join(fx, "lib")
	mounts := []string{"/var/lib/mailman3", "/var/log/mailman3", "/var/spool/postfix", "/var/mail", "/var/lib/opendkim"}
	moved := []string{"/usr/lib/ostal/", lib + "/", "/srv/data", fx + "/data", "/usr/share/wordpress", fx + "/wordpress",
		"/usr/share/mediawiki", fx + "/mediawiki", "/etc/mediawiki", fx + "/etc", "/run/ostal-lists", fx + "/run-lists",
		"/proc/self/mountinfo", fx + "/mountinfo", "/etc/ostal/dkim-selector", fx + "/etc/dkim-selector",
		"/etc/mailman3", fx + "/etc", "/usr/share/mailman3-web", fx + "/etc"}
	var mountinfo strings.Builder
	for _, m := range mounts {
		moved = append(moved, m, fx+m)
		mountinfo.WriteString("1 2 0:1 / " + fx + m + " rw - tmpfs tmpfs rw\n")
	}
	text = []byte(strings.NewReplacer(moved...).Replace(string(text)))
	version := strings.Fields(want)[1]
	files := map[string]string{
		"init":                              string(text),
		"lib/schema":                        mustRead(t, "base/rootfs/usr/lib/ostal/schema"),
		"lib/secret":                        "#!/bin/sh\nf=$OSTAL_DATA/secrets/$1; mkdir -p \"${f%/*}\"; [ -s \"$f\" ] || echo s3cr3t >\"$f\"; cat \"$f\"\n",
		"lib/mariadb-ensure-db":             "#!/bin/sh\n",
		"lib/dkim-public":                   "#!/bin/sh\n",
		"lib/www-setup.php":                 "<?php\n",
		"wordpress/wp-includes/version.php": "<?php\n$wp_version = '6.8.1';\n$wp_db_version = " + version + ";\n",
		"mediawiki/includes/Defines.php":    "<?php\ndefine( 'MW_VERSION', '" + version + "' );\n",
		"etc/LocalSettings.php":             "<?php\n$wgServer = \"https://wiki.example.org\";\nwfLoadSkin( 'Vector' );\n",
		"etc/mailman-web.py":                "",
		"etc/ostal_urls.py":                 "",
		"etc/dkim-selector":                 "s1",
		"mountinfo":                         mountinfo.String(),
		"var/lib/opendkim/keys/s1.private":  "key",
		// The programs: MariaDB answers that the wiki has a user (an
		// upgrade, not an installation), and nothing else.
		"bin/mariadb":    "#!/bin/sh\ncase \"$*\" in *COUNT*) echo 1 ;; esac\n",
		"bin/setpriv":    "#!/bin/sh\nwhile [ \"$1\" != -- ]; do shift; done; shift; exec \"$@\"\n",
		"bin/php":        "#!/bin/sh\necho \"php $(basename \"$1\") $2\" >>\"$FX/ran\"\n",
		"bin/runuser":    "#!/bin/sh\ncat >/dev/null; echo \"runuser $(basename \"$5\")\" >>\"$FX/ran\"\n",
		"bin/dpkg-query": "#!/bin/sh\nprintf '%s\\n' '" + want + "'\n",
		"bin/chgrp":      "#!/bin/sh\n",
		"bin/chown":      "#!/bin/sh\n",
		"bin/install":    "#!/bin/sh\nfor a; do d=$a; done; mkdir -p \"$d\"\n",
	}
	for name, body := range files {
		p := filepath.Join(fx, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o755))
	}
	for _, m := range mounts[:4] {
		require.NoError(t, os.MkdirAll(fx+m, 0o755))
	}
	return fx
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
