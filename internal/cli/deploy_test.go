package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/deploy"
)

// minimalEnv is a valid user-mode environment, like local.yaml.
const minimalEnv = `uri: qemu:///system
pool: ostal-test
domain: ostal-test
accel: qemu
vcpus: 1
memory: 1GiB
data_volumes:
  - name: ostal-data
    size: 1GiB
network:
  mode: user
  forwards:
    22: 40022
health:
  timeout: 5m
  checks: ["ssh"]
`

// inRepo makes a temporary directory with deploy/environments/ holding
// the given files, and makes it the current directory, as the
// repository's root is when ostal runs.
func inRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	envs := filepath.Join(dir, "deploy", "environments")
	require.NoError(t, os.MkdirAll(envs, 0o755))
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(envs, name), []byte(content), 0o644))
	}
	t.Chdir(dir)
	return dir
}

var deploySubcommands = []string{"push", "swap", "rollback", "status", "history", "gc"}

func TestDeployUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"alone", []string{"deploy"}, 2},
		{"--help", []string{"deploy", "--help"}, 0},
		{"-h", []string{"deploy", "-h"}, 0},
		{"help", []string{"deploy", "help"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			assert.Contains(t, r.stdout, "Usage: ostal deploy <command> ENV")
			for _, c := range deploySubcommands {
				assert.Contains(t, r.stdout, "\n  "+c+" ", "subcommand %s is listed", c)
			}
		})
	}
}

func TestDeploySubcommandHelp(t *testing.T) {
	for _, c := range deploySubcommands {
		t.Run(c, func(t *testing.T) {
			r := run(t, "deploy", c, "--help")
			assert.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "Usage: ostal deploy "+c)
			assert.Contains(t, r.stdout, "Examples:")
			assert.Contains(t, r.stdout, "ostal deploy "+c+" ")
		})
	}
}

func TestDeploySwapHelp(t *testing.T) {
	r := run(t, "deploy", "swap", "--help")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Examples")
	assert.Contains(t, r.stdout, "--in-window")
	assert.Contains(t, r.stdout, "--now")
	assert.Contains(t, r.stdout, "-json")
}

func TestDeployUnknownSubcommand(t *testing.T) {
	r := run(t, "deploy", "nosuch")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `unknown command "nosuch"`)
	assert.Contains(t, r.stderr, "push, swap, rollback, status, history, gc")
}

func TestDeployUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no environment", []string{"deploy", "status"}},
		{"too many arguments", []string{"deploy", "status", "a", "b"}},
		{"unknown flag", []string{"deploy", "gc", "local", "--keeep", "2"}},
		{"bad flag value", []string{"deploy", "gc", "local", "--keep", "two"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			assert.Equal(t, 2, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		})
	}
}

func TestDeployStatusMissingFile(t *testing.T) {
	r := run(t, "deploy", "status", "/nonexistent/env.yaml")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "/nonexistent/env.yaml")
	assert.Contains(t, r.stderr, "no such file")
	assert.Empty(t, r.stdout)
}

func TestDeployStatusUnknownNameListsEnvironments(t *testing.T) {
	inRepo(t, map[string]string{"a.yaml": minimalEnv, "b.yaml": minimalEnv})
	_, err := deploy.LoadEnvironment("a")
	require.NoError(t, err, "the environments listed are valid ones")
	r := run(t, "deploy", "status", "nosuchname")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "nosuchname")
	assert.Contains(t, r.stderr, "environments are a, b")
}

func TestDeployStatusOutsideTheRepository(t *testing.T) {
	t.Chdir(t.TempDir())
	r := run(t, "deploy", "status", "tetaneutral")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "there is no deploy/environments here")
}

func TestDeployBadEnvironmentField(t *testing.T) {
	bad := strings.Replace(minimalEnv, "accel: qemu", "accel: kvmm", 1)
	for _, tc := range []struct {
		name string
		arg  func(dir string) string
		file func(dir string) string
	}{
		{"by name", func(string) string { return "a" },
			func(string) string { return filepath.Join("deploy", "environments", "a.yaml") }},
		{"by path", func(dir string) string { return filepath.Join(dir, "deploy", "environments", "a.yaml") },
			func(dir string) string { return filepath.Join(dir, "deploy", "environments", "a.yaml") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := inRepo(t, map[string]string{"a.yaml": bad})
			for _, sub := range []string{"status", "push", "swap", "gc"} {
				r := run(t, "deploy", sub, tc.arg(dir))
				assert.Equal(t, 1, r.code, sub)
				assert.Contains(t, r.stderr, tc.file(dir), sub)
				assert.Contains(t, r.stderr, "accel", sub)
				assert.Contains(t, r.stderr, `"kvmm"`, sub)
			}
		})
	}
}

// A swap or rollback without the deployer's key is refused before
// anything is touched: it could only fail after the guest stopped.
func TestDeploySwapNeedsTheDeployerKey(t *testing.T) {
	inRepo(t, map[string]string{"a.yaml": minimalEnv})
	for _, sub := range []string{"swap", "rollback"} {
		r := run(t, "deploy", sub, "a", "--now")
		assert.Equal(t, 1, r.code, sub)
		assert.Contains(t, r.stderr, "health.ssh_key: not set", sub)
		assert.NotContains(t, r.stderr, "libvirt", sub)
	}
}
