// Package testutil holds what the build and boot tests share: running the
// ostal CLI in-process, locking and building the small test images.
package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
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
	// RepoRoot is the top of the ostal checkout.
	RepoRoot     = findRepoRoot()
	ProvisionDir = filepath.Join(RepoRoot, "provision")
)

func findRepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "../.."))
}

// TestSpec is the path of a spec in tests/images.
func TestSpec(name string) string { return filepath.Join(RepoRoot, "tests/images", name+".yaml") }

// RequireRoot ends a test binary early, with a message, when not root:
// building and booting images need it.
func RequireRoot(m *testing.M, what string) {
	if os.Geteuid() != 0 {
		os.Stderr.WriteString(what + ": skipped: needs root (mmdebstrap, chroot, libvirt); run `sudo make test`\n")
		os.Exit(0)
	}
}

// MainWithImageDir runs a test binary that needs root, with a temporary
// folder for the images its tests build, removed at the end.
func MainWithImageDir(m *testing.M, what string, imageDir *string) {
	RequireRoot(m, what)
	dir, err := os.MkdirTemp("", "ostal-"+filepath.Base(what)+"-images-")
	if err != nil {
		panic(err)
	}
	*imageDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Ostal runs the CLI in-process and returns exit code, stdout and stderr.
func Ostal(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// MustOstal runs the CLI and fails the test unless it succeeds.
func MustOstal(t testing.TB, args ...string) string {
	t.Helper()
	code, out, errOut := Ostal(t, args...)
	if code != 0 {
		t.Fatalf("ostal %s: exit %d\n%s\n%s", strings.Join(args, " "), code, Tail(out, 30), errOut)
	}
	return out
}

// SharedCache is the machine's ostal cache: .debs and trees outlive the
// test run, so a second run is fast, but nothing requires them.
func SharedCache() string { return builders.DefaultCacheDir() }

// FreshTreeCache is a cache holding the shared cache's .debs (hard links)
// and no root trees: a build from it installs every package again.
func FreshTreeCache(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(SharedCache(), "debs")
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

// LockedSpec copies a spec into a temporary folder (edited by edit when
// not nil) and locks it against the mirror as it is today, so the tests
// never depend on versions that have since left the mirror.
func LockedSpec(t testing.TB, spec string, edit func(string) string) string {
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
	MustOstal(t, "lock", "--cache", SharedCache(), "--provision", ProvisionDir, path)
	return path
}

// Build builds a spec and returns its manifest.
func Build(t testing.TB, spec, cache, output string) *builders.Manifest {
	t.Helper()
	out := MustOstal(t, "build", "--json", "--cache", cache, "--output", output, "--provision", ProvisionDir, spec)
	var m builders.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("build --json printed no manifest: %v\n%s", err, out)
	}
	return &m
}

// OstalBinary builds the ostal command for tests that must signal a real
// process.
func OstalBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ostal")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ostal")
	cmd.Dir = RepoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Tail is the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogWriter sends what is written to it to the test log, line by line.
func LogWriter(t *testing.T) io.Writer { return logWriter{t} }

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
