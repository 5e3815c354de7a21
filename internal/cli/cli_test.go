package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/images"
	"github.com/ostal/ostal/internal/buildinfo"
)

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	t.Setenv("OSTAL_CACHE", filepath.Join(t.TempDir(), "cache"))
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// workspace is a folder with a provision/ folder holding base/motd.
func workspace(t *testing.T) (dir, provision string) {
	t.Helper()
	dir = t.TempDir()
	provision = filepath.Join(dir, "provision")
	require.NoError(t, os.MkdirAll(filepath.Join(provision, "base"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(provision, "base", "motd"), []byte("hi\n"), 0o644))
	return dir, provision
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

const goodSpec = `name: web
packages:
  - linux-image-amd64
  - nginx
files:
  - source: base/motd
    dest: /etc/motd
units:
  - nginx.service
`

const badSpec = `name: Web
packages:
  - linux-image-amd64
  - nginx
  - nginx
files:
  - source: base/missing
    dest: etc/motd
    mode: "0999"
disk_size: 4GB
`

func TestNoArgumentsPrintsUsage(t *testing.T) {
	r := run(t)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stdout, "Usage: ostal <command> [flags] [arguments]")
	for _, c := range []string{"validate", "lock", "build", "version"} {
		assert.Contains(t, r.stdout, "\n  "+c+" ")
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		r := run(t, arg)
		assert.Equal(t, 0, r.code, arg)
		assert.Contains(t, r.stdout, "Commands:", arg)
		assert.Empty(t, r.stderr, arg)
	}
}

func TestUnknownCommand(t *testing.T) {
	r := run(t, "biuld")
	assert.Equal(t, 2, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "ostal: unknown command \"biuld\"\n\n"), r.stderr)
	assert.Contains(t, r.stderr, "Commands:")
	assert.Empty(t, r.stdout)
}

func TestCommandHelpShowsExamples(t *testing.T) {
	r := run(t, "validate", "--help")
	assert.Equal(t, 0, r.code)
	assert.True(t, strings.HasPrefix(r.stdout, "Usage: ostal validate [flags] [spec.yaml...]\n\n"), r.stdout)
	assert.Contains(t, r.stdout, "\nFlags:\n")
	assert.Contains(t, r.stdout, "-offline")
	assert.Contains(t, r.stdout, "\nExamples:\n  ostal validate                          # images/utzqanil.yaml\n")
	assert.Contains(t, r.stdout, "ostal validate --offline tests/images/tiny.yaml")

	for _, cmd := range []string{"lock", "updates", "build"} {
		r := run(t, cmd, "-h")
		assert.Equal(t, 0, r.code, cmd)
		assert.Contains(t, r.stdout, "Usage: ostal "+cmd+" [flags] [spec.yaml]", cmd)
		assert.Contains(t, r.stdout, "\nExamples:\n  ostal "+cmd, cmd)
	}
}

func TestUnknownFlagIsAUsageError(t *testing.T) {
	r := run(t, "validate", "--ofline")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "flag provided but not defined: -ofline")
}

func TestValidateOfflineGoodSpec(t *testing.T) {
	dir, provision := workspace(t)
	spec := writeFile(t, filepath.Join(dir, "images/web.yaml"), goodSpec)
	r := run(t, "validate", "--offline", "--provision", provision, spec)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, spec+": ok (2 packages)\n", r.stdout)
	assert.Empty(t, r.stderr)
}

func TestValidateProvisionFromEnvironment(t *testing.T) {
	dir, provision := workspace(t)
	spec := writeFile(t, filepath.Join(dir, "images/web.yaml"), goodSpec)
	t.Setenv("OSTAL_PROVISION", provision)
	r := run(t, "validate", "--offline", spec)
	assert.Equal(t, 0, r.code, r.stderr)
}

func TestValidateOfflineBadSpecListsEveryProblem(t *testing.T) {
	dir, provision := workspace(t)
	spec := writeFile(t, filepath.Join(dir, "images/web.yaml"), badSpec)
	r := run(t, "validate", "--offline", "--provision", provision, spec)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	// The host name defaults to the name: its problem is reported once.
	assert.Equal(t, "6 problems:\n"+
		"  "+spec+`: name: "Web" is not a valid image name; use lower-case letters, digits and dashes, e.g. utzqanil`+"\n"+
		"  "+spec+`: packages[2]: "nginx" is listed twice; remove the repetition`+"\n"+
		"  "+spec+`: files[0].source: "`+provision+`/base/missing" does not exist; create the file or fix the path (relative to `+provision+`)`+"\n"+
		"  "+spec+`: files[0].dest: "etc/motd" is not an absolute path; give a clean absolute path in the image, e.g. /etc/ssh/sshd_config.d/ostal.conf`+"\n"+
		"  "+spec+`: files[0].mode: "0999" is not a file mode; write an octal mode in quotes, e.g. "0644"`+"\n"+
		"  "+spec+`: disk_size: "4GB" is not a size; write a size such as "4GiB" (at least 512 MiB)`+"\n"+
		"ostal validate: the spec has problems; nothing was built\n", r.stderr)
}

func TestValidateSeveralSpecs(t *testing.T) {
	dir, provision := workspace(t)
	good := writeFile(t, filepath.Join(dir, "images/a.yaml"), goodSpec)
	bad := writeFile(t, filepath.Join(dir, "images/b.yaml"), "name: b\npackagez: [bash]\n")
	r := run(t, "validate", "--offline", "--provision", provision, bad, good)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, good+": ok (2 packages)\n", r.stdout, "a good spec is reported even when another fails")
	assert.Equal(t, bad+": packagez: unknown key; did you mean \"packages\"?\nostal validate: the spec has problems; nothing was built\n", r.stderr)
}

func TestValidateDefaultSpec(t *testing.T) {
	r := run(t, "validate", "--offline")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "read spec images/utzqanil.yaml: ", "without arguments the default image is validated")
}

func TestValidateJSON(t *testing.T) {
	dir, provision := workspace(t)
	good := writeFile(t, filepath.Join(dir, "images/a.yaml"), goodSpec)
	bad := writeFile(t, filepath.Join(dir, "images/b.yaml"), badSpec)
	r := run(t, "validate", "--offline", "--json", "--provision", provision, good, bad)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "ostal validate: the spec has problems; nothing was built\n", r.stderr)

	var got []struct {
		Spec     string
		OK       bool
		Packages int
		Problems []images.FieldError
		Error    string
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
	require.Len(t, got, 2)
	assert.Equal(t, good, got[0].Spec)
	assert.True(t, got[0].OK)
	assert.Equal(t, 2, got[0].Packages)
	assert.Empty(t, got[0].Problems)

	assert.Equal(t, bad, got[1].Spec)
	assert.False(t, got[1].OK)
	require.Len(t, got[1].Problems, 6)
	assert.Equal(t, images.FieldError{File: bad, Field: "packages[2]", Problem: `"nginx" is listed twice`, Hint: "remove the repetition"}, got[1].Problems[1])
	for _, p := range got[1].Problems {
		assert.Equal(t, bad, p.File)
		assert.NotEmpty(t, p.Field)
	}
	assert.True(t, strings.HasPrefix(got[1].Error, "6 problems:\n"))
}

func TestValidateJSONKeysAreLowerCase(t *testing.T) {
	dir, provision := workspace(t)
	bad := writeFile(t, filepath.Join(dir, "images/b.yaml"), badSpec)
	r := run(t, "validate", "--offline", "--json", "--provision", provision, bad)
	var got []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	problem := got[0]["problems"].([]any)[0].(map[string]any)
	assert.Contains(t, problem, "file")
	assert.Contains(t, problem, "field")
	assert.Contains(t, problem, "problem")
	assert.Contains(t, problem, "hint")
}

func lockFor(packages ...string) *images.Lock {
	return &images.Lock{
		Suite: "trixie", Mirror: "http://deb.debian.org/debian", Architecture: "amd64",
		ReleaseDate: time.Date(2026, 11, 21, 9, 15, 44, 0, time.UTC),
		Requested:   map[string][]string{images.SetImage: images.Requests(packages), images.SetTools: builders.ToolPackages},
		Sets: map[string][]images.Package{images.SetImage: {{Name: "bash", Version: "5.2", Arch: "amd64", Size: 1, InstalledKiB: 1,
			Essential: true, SHA256: strings.Repeat("a", 64), Filename: "pool/main/b/bash/bash_5.2_amd64.deb"}}},
	}
}

func TestLockCheckFresh(t *testing.T) {
	dir, _ := workspace(t)
	spec := writeFile(t, filepath.Join(dir, "images/web.yaml"), goodSpec)
	lock := filepath.Join(dir, "images/web.lock")
	require.NoError(t, lockFor("nginx", "linux-image-amd64").WriteFile(lock))
	r := run(t, "lock", "--check", spec)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, lock+" matches "+spec+"\n", r.stdout)
}

func TestLockCheckStale(t *testing.T) {
	dir, _ := workspace(t)
	spec := writeFile(t, filepath.Join(dir, "images/web.yaml"), goodSpec)
	lock := filepath.Join(dir, "images/web.lock")
	require.NoError(t, lockFor("linux-image-amd64", "apache2").WriteFile(lock))
	before, err := os.ReadFile(lock)
	require.NoError(t, err)

	r := run(t, "lock", "--check", spec)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, "ostal lock: "+lock+": request image: the lock is stale: since it was written, added nginx; removed apache2; "+
		"run `ostal lock "+spec+"` to lock the spec as it is now\n", r.stderr)
	after, err := os.ReadFile(lock)
	require.NoError(t, err)
	assert.Equal(t, before, after, "--check writes nothing")
}

func TestLockCheckWithoutLock(t *testing.T) {
	dir, _ := workspace(t)
	spec := writeFile(t, filepath.Join(dir, "images/web.yaml"), goodSpec)
	r := run(t, "lock", "--check", spec)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "ostal lock: read lock "+filepath.Join(dir, "images/web.lock")+": ")
	assert.Contains(t, r.stderr, "(run `ostal lock` to write it)")
}

func TestLockOneSpecAtATime(t *testing.T) {
	r := run(t, "lock", "a.yaml", "b.yaml")
	assert.Equal(t, 2, r.code)
	assert.Equal(t, "ostal lock: one spec at a time\n", r.stderr)
}

func TestBuildMissingSpec(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "images/nope.yaml")
	r := run(t, "build", "--output", t.TempDir(), spec)
	assert.Equal(t, 1, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "ostal build: read spec "+spec+": "), r.stderr)
	assert.Contains(t, r.stderr, "no such file or directory")
	assert.Contains(t, r.stderr, "pass the path of a spec, e.g. images/utzqanil.yaml")
}

func TestBuildStaleLockFailsBeforeBuilding(t *testing.T) {
	dir, provision := workspace(t)
	spec := writeFile(t, filepath.Join(dir, "images/web.yaml"), goodSpec)
	require.NoError(t, lockFor("linux-image-amd64").WriteFile(filepath.Join(dir, "images/web.lock")))
	out := filepath.Join(dir, "build")
	r := run(t, "build", "--provision", provision, "--output", out, spec)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "added nginx")
	assert.Contains(t, r.stderr, "run `ostal lock "+spec+"`")
	assert.NoDirExists(t, out, "nothing is built")
}

func TestBuildOneSpecAtATime(t *testing.T) {
	r := run(t, "build", "a.yaml", "b.yaml")
	assert.Equal(t, 2, r.code)
	assert.Equal(t, "ostal build: one spec at a time\n", r.stderr)
}

func TestVersion(t *testing.T) {
	r := run(t, "version")
	assert.Equal(t, 0, r.code)
	assert.Equal(t, "ostal "+buildinfo.Version+" (commit "+buildinfo.Commit+")\n", r.stdout)

	r = run(t, "version", "--short")
	assert.Equal(t, 2, r.code)
}

func TestTestListShowsTheServicesChecksNeedAndWhatTheyWrite(t *testing.T) {
	r := run(t, "test", "--list", "--check", "lists.starttls", "--check", "ssh", "--check", "www.post")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4, r.stdout)
	assert.Equal(t, []string{"check", "needs", "writes", "summary"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"lists.starttls", "lists,tls", "-", "port"}, strings.Fields(lines[1])[:4])
	assert.Equal(t, []string{"ssh", "-", "-", "the"}, strings.Fields(lines[2])[:4])
	assert.Equal(t, []string{"www.post", "www,tls", "yes", "a"}, strings.Fields(lines[3])[:4])
	assert.Contains(t, lines[3], "; leaves a published post")
}
