package deploy_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testSSHD is an sshd on loopback with a throwaway host key, letting in
// root with one throwaway key: the remote end of qemu+ssh:// in tests.
type testSSHD struct {
	Port                  int
	ClientKey, KnownHosts string
}

// URI is the libvirt URI through this sshd, with key and known_hosts.
func (s *testSSHD) URI(key string) string {
	if key == "" {
		key = s.ClientKey
	}
	return fmt.Sprintf("qemu+ssh://root@127.0.0.1:%d/system?keyfile=%s&known_hosts=%s", s.Port, key, s.KnownHosts)
}

func startSSHD(t *testing.T) *testSSHD {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Fatal("sshd is not installed: `make test-packages` installs openssh-server")
	}
	dir := t.TempDir()
	hostKey := writeKey(t, filepath.Join(dir, "host_key"))
	client := writeKey(t, filepath.Join(dir, "client_key"))
	s := &testSSHD{Port: freePort(t), ClientKey: filepath.Join(dir, "client_key"), KnownHosts: filepath.Join(dir, "known_hosts")}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("authorized_keys", string(ssh.MarshalAuthorizedKey(client.PublicKey())))
	write("known_hosts", knownhosts.Line([]string{fmt.Sprintf("[127.0.0.1]:%d", s.Port)}, hostKey.PublicKey())+"\n")
	write("sshd_config", strings.Join([]string{
		fmt.Sprintf("Port %d", s.Port), "ListenAddress 127.0.0.1",
		"HostKey " + filepath.Join(dir, "host_key"), "PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
		"UsePAM no", "StrictModes no", "AllowStreamLocalForwarding yes", "LogLevel VERBOSE", "",
	}, "\n"))
	os.MkdirAll("/run/sshd", 0o755) // its privilege separation directory
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port)); err == nil {
			c.Close()
			return s
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("sshd did not listen on 127.0.0.1:%d", s.Port)
		}
	}
}
