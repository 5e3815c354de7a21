// Package boot_test runs `ostal test` against real libvirt and QEMU: the
// small test images boot, every system check passes (with a swap to a
// rebuilt image), a broken image fails cleanly, and bad input, a killed
// run and Ctrl-C leave nothing defined.
package boot_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ostal/ostal/internal/virt"
	"github.com/ostal/ostal/tests/harness"
	"github.com/ostal/ostal/tests/testutil"
)

// images are built once for every test of this package, into imageDir.
var (
	images   struct{ tiny, next, broken, small string }
	imageDir string
)

func TestMain(m *testing.M) { testutil.MainWithImageDir(m, "tests/boot", &imageDir) }

func buildImages(t *testing.T) {
	t.Helper()
	if images.tiny != "" {
		return
	}
	out := imageDir
	for name, dst := range map[string]*string{"tiny": &images.tiny, "tiny-next": &images.next, "broken": &images.broken} {
		spec := testutil.LockedSpec(t, testutil.TestSpec(name), nil)
		m := testutil.Build(t, spec, testutil.SharedCache(), out)
		*dst = filepath.Join(out, m.Name+".qcow2")
	}
}

// report runs `ostal test --json` in-process and decodes its report.
func report(t *testing.T, args ...string) (int, *harness.Report, string) {
	t.Helper()
	args = append([]string{"test", "--json", "--reports", t.TempDir()}, args...)
	code, out, errOut := testutil.Ostal(t, args...)
	var r harness.Report
	if out != "" {
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("ostal test --json printed no report: %v\n%s\n%s", err, out, errOut)
		}
	}
	return code, &r, errOut
}

func TestAllChecksPass(t *testing.T) {
	buildImages(t)
	code, r, errOut := report(t, "--swap-image", images.next, images.tiny)
	if code != 0 || !r.OK {
		t.Fatalf("exit %d, report %+v\n%s", code, r, errOut)
	}
	got := map[string]bool{}
	for _, res := range r.Results {
		got[res.Check] = res.OK
		t.Logf("%-12s ok=%v %.1fs %s", res.Check, res.OK, res.Seconds, strings.Join(res.Notes, "; "))
	}
	for _, name := range []string{"boot", "ssh", "no-secrets", "persistence", "shutdown"} {
		if !got[name] {
			t.Errorf("check %s did not pass", name)
		}
	}
	for _, f := range []string{"serial.log", "journal.txt", "report.json", "report.md"} {
		if fi, err := os.Stat(filepath.Join(r.Dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("the report folder lacks %s", f)
		}
	}
	if r.Accel != "kvm" && r.Accel != "qemu" {
		t.Errorf("the report does not say which accelerator ran: %q", r.Accel)
	}
	t.Logf("accelerator %s, ready after %.1f s, healthy after %.1f s", r.Accel, r.ReadyAfter, r.HealthyAfter)
	expectNothingLeft(t)
}

func TestUEFIBoot(t *testing.T) {
	buildImages(t)
	code, r, errOut := report(t, "--firmware", "uefi", "--check", "boot", "--check", "ssh", images.tiny)
	if code != 0 || !r.OK {
		t.Fatalf("exit %d, report %+v\n%s", code, r, errOut)
	}
	expectNothingLeft(t)
}

func TestBrokenImageFailsCleanly(t *testing.T) {
	buildImages(t)
	code, r, _ := report(t, "--check", "boot", "--ready-timeout", "4m", images.broken)
	if code != 1 || r.OK {
		t.Fatalf("a broken image passed: exit %d", code)
	}
	for _, want := range []string{"the guest stopped", "last lines of the serial console", "Kernel panic"} {
		if !strings.Contains(r.BootError, want) {
			t.Errorf("the boot error does not say %q:\n%s", want, r.BootError)
		}
	}
	expectNothingLeft(t)
}

func TestBadInput(t *testing.T) {
	text := filepath.Join(t.TempDir(), "notes.qcow2")
	os.WriteFile(text, []byte("not an image\n"), 0o644)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"missing image", []string{"/nonexistent/utzqanil.qcow2"}, "no such file or directory (build one with `make image`)"},
		{"not a qcow2", []string{text}, "is not a qcow2 file"},
		{"libvirtd not there", []string{"--uri", "qemu:///system?socket=/nonexistent/libvirt-sock", text + ".none"}, ""},
		{"unknown check", []string{"--check", "wikki", text}, `no check is named "wikki"`},
		{"unsupported transport", []string{"--uri", "vbox:///session", "x.qcow2"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := testutil.Ostal(t, append([]string{"test"}, c.args...)...)
			if code == 0 {
				t.Fatalf("exit 0 for %s", c.name)
			}
			if c.want != "" && !strings.Contains(errOut, c.want) {
				t.Fatalf("the error does not say %q:\n%s", c.want, errOut)
			}
		})
	}
}

func TestLibvirtDown(t *testing.T) {
	buildImages(t)
	code, _, errOut := testutil.Ostal(t, "test", "--uri", "qemu:///system?socket=/nonexistent/libvirt-sock", images.tiny)
	if code != 1 || !strings.Contains(errOut, "cannot connect to libvirt at qemu:///system?socket=/nonexistent/libvirt-sock") ||
		!strings.Contains(errOut, "is libvirtd running?") {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
}

// TestInterrupted stops real ostal processes once the guest is up: Ctrl-C
// must clean up at once, kill -9 leaves a domain that the next run
// removes.
func TestInterrupted(t *testing.T) {
	buildImages(t)
	bin := testutil.OstalBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "test", "--accel", "qemu", "--reports", t.TempDir(), images.tiny)
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = cmd.Stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			var log []string
			sent := false
			for sc.Scan() {
				log = append(log, sc.Text())
				if !sent && strings.HasPrefix(sc.Text(), "check ") {
					cmd.Process.Signal(sig)
					sent = true
				}
			}
			if err := cmd.Wait(); err == nil {
				t.Fatalf("ostal test succeeded although interrupted:\n%s", strings.Join(log, "\n"))
			}
			if sig == syscall.SIGINT {
				expectNothingLeft(t)
				return
			}
			// The killed run's domain and volumes are still there; the
			// next run finds and removes them.
			code, out, errOut := testutil.Ostal(t, "test", "--accel", "qemu", "--check", "boot", "--reports", t.TempDir(), images.tiny)
			if code != 0 || !strings.Contains(out, "left by a killed run") {
				t.Fatalf("the next run did not clean up: exit %d\n%s\n%s", code, out, errOut)
			}
			expectNothingLeft(t)
		})
	}
}

// leftBehind: made by this test process, or by a run that is gone; the
// domains of other live runs on the machine are theirs.
func leftBehind(name string) bool {
	pid, ok := harness.RunPID(name)
	if !ok {
		return false
	}
	return pid == os.Getpid() || syscall.Kill(pid, 0) != nil
}

// expectNothingLeft: no test domain or volume remains in libvirt.
func expectNothingLeft(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := virt.Dial(ctx, virt.DefaultURI)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	doms, err := conn.Domains(ctx, harness.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range doms {
		if leftBehind(d) {
			t.Errorf("domain left behind: %s", d)
		}
	}
	pool, err := conn.EnsurePool(ctx, "ostal-test", "/var/lib/ostal/test-pool")
	if err != nil {
		t.Fatal(err)
	}
	vols, err := conn.Volumes(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols {
		if leftBehind(v) {
			t.Errorf("volume left behind: %s", v)
		}
	}
}
