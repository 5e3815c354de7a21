package testutil

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ostal/ostal/builders"
)

// PackerVersion is the Packer the plugin's acceptance test runs: the last
// release under the MPL, which builds from the Go module proxy.
const PackerVersion = "1.9.4"

// PackerBinary is Packer PackerVersion, built once from its module's
// source into ostal's cache (tools/packer-VERSION) and reused after that.
// `go install ...@version` refuses Packer, whose go.mod replaces a module,
// so the source is copied out of the module cache and built as a main
// module of its own.
func PackerBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(builders.DefaultCacheDir(), "tools", "packer-"+PackerVersion, "packer")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/hashicorp/packer@v"+PackerVersion).Output()
	if err != nil {
		t.Fatalf("download Packer %s from the Go module proxy: %v\n%s", PackerVersion, err, out)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("download Packer %s: %v %s", PackerVersion, err, mod.Error)
	}
	src := filepath.Join(t.TempDir(), "packer")
	if out, err := exec.Command("cp", "-r", mod.Dir, src).CombinedOutput(); err != nil {
		t.Fatalf("copy Packer's source: %v\n%s", err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", src).CombinedOutput(); err != nil {
		t.Fatalf("make Packer's source writable: %v\n%s", err, out)
	}
	tmp := bin + ".tmp"
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("building Packer %s from the module proxy (once; kept at %s)", PackerVersion, bin)
	cmd := exec.Command("go", "build", "-mod=mod", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build Packer %s: %v\n%s", PackerVersion, err, Tail(string(out), 30))
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// PackerPlugin builds cmd/packer-plugin-ostal into a folder of its own,
// the PACKER_PLUGIN_PATH under which Packer 1.9 finds it.
func PackerPlugin(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "packer-plugin-ostal"), "./cmd/packer-plugin-ostal")
	cmd.Dir = RepoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build packer-plugin-ostal: %v\n%s", err, out)
	}
	return dir
}
