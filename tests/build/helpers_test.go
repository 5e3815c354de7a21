// Package build_test builds the small test image from tests/images with
// the real tools (mmdebstrap, the Debian mirror, QEMU) and checks what a
// user relies on: same inputs give the same bytes, the image boots under
// SeaBIOS and OVMF, bad input and interruptions fail cleanly.
package build_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/internal/cli"
)

var (
	repoRoot     = findRepoRoot()
	provisionDir = filepath.Join(repoRoot, "provision")
	tinySpec     = filepath.Join(repoRoot, "tests/images/tiny.yaml")
)

func findRepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "../.."))
}

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Stderr.WriteString("tests/build: skipped: building images needs root (mmdebstrap, chroot); run `sudo make integration`\n")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ostal runs the CLI in-process and returns exit code, stdout and stderr.
func ostal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustOstal(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := ostal(t, args...)
	if code != 0 {
		t.Fatalf("ostal %s: exit %d\n%s\n%s", strings.Join(args, " "), code, tail(out, 30), errOut)
	}
	return out
}

// sharedCache is the machine's ostal cache: .debs and trees outlive the
// test run, so a second run is fast, but nothing requires them.
func sharedCache() string { return builders.DefaultCacheDir() }

// freshTreeCache is a cache holding the shared cache's .debs (hard links)
// and no root trees: a build from it installs every package again.
func freshTreeCache(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(sharedCache(), "debs")
	if err := os.MkdirAll(filepath.Join(dir, "debs"), 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".deb") {
			if err := os.Link(filepath.Join(src, e.Name()), filepath.Join(dir, "debs", e.Name())); err != nil {
				t.Fatalf("link cached .deb: %v", err)
			}
		}
	}
	return dir
}

// lockedSpec copies a spec into a temporary folder and locks it against the
// mirror as it is today, so the tests never depend on versions that have
// since left the mirror.
func lockedSpec(t *testing.T, spec string, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(spec))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	mustOstal(t, "lock", "--cache", sharedCache(), "--provision", provisionDir, path)
	return path
}

func build(t *testing.T, spec, cache, output string) *builders.Manifest {
	t.Helper()
	out := mustOstal(t, "build", "--json", "--cache", cache, "--output", output, "--provision", provisionDir, spec)
	var m builders.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("build --json printed no manifest: %v\n%s", err, out)
	}
	return &m
}

// ostalBinary builds the ostal command for tests that must signal a real
// process.
func ostalBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ostal")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ostal")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
