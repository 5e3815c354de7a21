package build_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ostal/ostal/tests/harness"
)

// Booting images straight with QEMU: the build's own proof that an image
// starts under both firmwares. (The libvirt boot tests are in tests/boot.)

var (
	accelOnce sync.Once
	accel     string
)

// probeAccel starts a real guest under KVM and keeps KVM only if the guest
// prints on its console: a /dev/kvm node alone proves nothing (on some
// hosts QEMU hangs or asserts with it).
func probeAccel(t *testing.T, image string) string {
	accelOnce.Do(func() {
		accel = "tcg"
		if _, err := os.Stat("/dev/kvm"); err != nil {
			return
		}
		log := filepath.Join(t.TempDir(), "kvm-probe.log")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := qemuCommand(ctx, "kvm", "bios", overlay(t, image), log, 0, "")
		if err := cmd.Start(); err != nil {
			return
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		for ctx.Err() == nil {
			if b, _ := os.ReadFile(log); len(bytes.TrimSpace(b)) > 0 {
				accel = "kvm"
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	return accel
}

func overlay(t *testing.T, image string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "overlay.qcow2")
	abs, _ := filepath.Abs(image)
	out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-b", abs, "-F", "qcow2", path).CombinedOutput()
	if err != nil {
		t.Fatalf("create overlay on %s: %v\n%s", image, err, out)
	}
	return path
}

func ovmfFiles(t *testing.T) (code, vars string) {
	for _, suffix := range []string{"_4M.fd", ".fd"} {
		code, vars = "/usr/share/OVMF/OVMF_CODE"+suffix, "/usr/share/OVMF/OVMF_VARS"+suffix
		if _, err := os.Stat(code); err == nil {
			return code, vars
		}
	}
	t.Fatalf("no OVMF firmware in /usr/share/OVMF: install the ovmf package (make test-packages)")
	return "", ""
}

// qemuCommand boots one vCPU: this test proves the firmware paths, and
// under TCG on a busy two-core host a second vCPU once starved until the
// guest kernel stalled. (The libvirt boot tests run two.)
func qemuCommand(ctx context.Context, accel, firmware, disk, serialLog string, sshPort int, varsCopy string) *exec.Cmd {
	args := []string{"-accel", accel, "-m", "1024", "-smp", "1", "-display", "none", "-monitor", "none",
		"-serial", "file:" + serialLog, "-no-reboot",
		"-drive", "file=" + disk + ",format=qcow2,if=virtio"}
	if firmware == "uefi" {
		code := strings.SplitN(varsCopy, "|", 2)
		args = append(args, "-machine", "q35",
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+code[0],
			"-drive", "if=pflash,format=raw,unit=1,file="+code[1])
	} else {
		args = append(args, "-machine", "pc")
	}
	if sshPort > 0 {
		args = append(args, "-nic", fmt.Sprintf("user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:%d-:22", sshPort))
	} else {
		args = append(args, "-nic", "none")
	}
	return exec.CommandContext(ctx, "qemu-system-x86_64", args...)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// bootToReady boots image with firmware ("bios" or "uefi"), waits for the
// image's readiness line on the serial console, then greets sshd through
// the forwarded port on 127.0.0.1.
func bootToReady(t *testing.T, image, firmware string) {
	t.Helper()
	accel := probeAccel(t, image)
	dir := t.TempDir()
	serial := filepath.Join(dir, "serial.log")
	port := freePort(t)
	firmwareArg := ""
	if firmware == "uefi" {
		code, vars := ovmfFiles(t)
		varsCopy := filepath.Join(dir, "vars.fd")
		b, err := os.ReadFile(vars)
		if err != nil {
			t.Fatalf("read OVMF variables: %v", err)
		}
		if err := os.WriteFile(varsCopy, b, 0o644); err != nil {
			t.Fatalf("copy OVMF variables: %v", err)
		}
		firmwareArg = code + "|" + varsCopy
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := qemuCommand(ctx, accel, firmware, overlay(t, image), serial, port, firmwareArg)
	var qemuOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &qemuOut, &qemuOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(serial)
			t.Logf("serial console (last 40 lines):\n%s", tail(string(b), 40))
		}
	}()
	for {
		b, _ := os.ReadFile(serial)
		if strings.Contains(string(b), "ostal: ready") {
			break
		}
		if strings.Contains(string(b), "ostal: not ready") {
			t.Fatalf("%s boot: the guest says sshd does not listen", firmware)
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s boot: qemu exited before the guest was ready: %v\n%s", firmware, err, qemuOut.String())
		case <-ctx.Done():
			t.Fatalf("%s boot (%s): not ready after %s", firmware, accel, time.Since(start).Round(time.Second))
		case <-time.After(time.Second):
		}
	}
	ready := time.Since(start)
	banner := sshBanner(t, port)
	if !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Fatalf("%s boot: port 22 answered %q, not an SSH banner", firmware, banner)
	}
	b, _ := os.ReadFile(serial)
	if bad := harness.ConsoleProblems(string(b)); len(bad) > 0 {
		t.Fatalf("%s boot: the console shows problems:\n%s", firmware, strings.Join(bad, "\n"))
	}
	t.Logf("%s boot under %s: ready in %s, sshd says %q", firmware, accel, ready.Round(100*time.Millisecond), banner)
}

func sshBanner(t *testing.T, port int) string {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	if err != nil {
		t.Fatalf("connect to the forwarded ssh port: %v", err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read the ssh banner: %v", err)
	}
	return strings.TrimSpace(string(buf[:n]))
}
