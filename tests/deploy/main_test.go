// Package deploy_test deploys images with `ostal deploy` to the real
// libvirtd of this machine, through qemu:///system and through
// qemu+ssh:// to an sshd on loopback: first deployment, swaps, data kept,
// a rollback by itself from an unhealthy image, a deployer killed twice in
// a swap, a dropped connection, a full pool and bad environments. Every
// branch of the swap's logic is table-tested in package deploy against a
// fake host; these are what only a real libvirt and real guests show.
package deploy_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/deploy"
	"github.com/ostal/ostal/internal/virt"
	"github.com/ostal/ostal/tests/checks"
	"github.com/ostal/ostal/tests/testutil"
)

// pool is where every test of this package deploys; each test has its
// own domain, whose volumes it removes at the end.
const (
	pool     = "ostal-deploy-test"
	poolPath = "/var/lib/ostal/pools/deploy-test"
)

var imageDir string

func TestMain(m *testing.M) { testutil.MainWithImageDir(m, "tests/deploy", &imageDir) }

// images are built once per test binary: the deploy image, a rebuild of
// it with one more file (another digest), and one whose DNS server never
// starts and whose boot changes the data. Each has the test inbox, a
// one-line mail server on port 25 (provision/tests/inbox), for the public.
var images struct {
	once                  sync.Once
	good, next, unhealthy string
}

func buildImages(t *testing.T) {
	t.Helper()
	images.once.Do(func() {
		build := func(spec, name string, files, units string) string {
			files = "files:\n" +
				"  - source: tests/inbox\n    dest: /usr/local/lib/ostal-test-inbox\n" +
				"  - source: tests/inbox.socket\n    dest: /etc/systemd/system/ostal-test-inbox.socket\n" +
				"  - source: tests/inbox@.service\n    dest: /etc/systemd/system/ostal-test-inbox@.service\n" + files
			units = "units:\n  - ostal-test-inbox.socket\n" + units
			edit := func(s string) string {
				return strings.Replace(s, "name: "+filepath.Base(strings.TrimSuffix(spec, ".yaml")), "name: "+name, 1) + files + units
			}
			m := testutil.Build(t, testutil.LockedSpec(t, testutil.TestSpec(filepath.Base(strings.TrimSuffix(spec, ".yaml"))), edit), testutil.SharedCache(), imageDir)
			return filepath.Join(imageDir, m.Name+".qcow2")
		}
		images.good = build("deploy.yaml", "deploy", "", "")
		images.next = build("deploy.yaml", "deploy-next", "  - source: tests/variant\n    dest: /etc/ostal-test-variant\n", "")
		images.unhealthy = build("deploy.yaml", "deploy-unhealthy",
			"  - source: tests/knot-fails.conf\n    dest: /etc/systemd/system/knot.service.d/ostal-test-fails.conf\n"+
				"  - source: tests/scribble.service\n    dest: /etc/systemd/system/ostal-test-scribble.service\n",
			"  - ostal-test-scribble.service\n")
	})
	if images.unhealthy == "" {
		t.Fatal("the test images could not be built")
	}
}

// envFile is an environment for one test's domain, written into dir.
type envFile struct {
	URI, Domain, Key string
	SSHPort, DNSPort int
	// SMTPPort is the host's port for the test inbox: the public's way in.
	SMTPPort int
	Timeout  string
}

func (e envFile) write(t *testing.T, dir string) string {
	t.Helper()
	smtp := ""
	if e.SMTPPort != 0 {
		smtp = fmt.Sprintf("\n    25: %d", e.SMTPPort)
	}
	text := fmt.Sprintf(`uri: %q
pool: %s
pool_path: %s
domain: %s
accel: qemu
vcpus: 2
memory: 1GiB
data_volumes:
  - name: ostal-data
    size: 512MiB
network:
  mode: user
  forwards:
    22: %d
    53: %d%s
health:
  ssh_key: %s
  timeout: %s
  checks: ["ssh", "dns.tcp", "firewall.public"]
`, e.URI, pool, poolPath, e.Domain, e.SSHPort, e.DNSPort, smtp, e.Key, e.Timeout)
	path := filepath.Join(dir, e.Domain+".yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// newEnv makes a domain name, ports and a deployer key for one test, and
// removes the domain and its volumes when the test ends.
func newEnv(t *testing.T, name, uri string) envFile {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "deployer")
	writeKey(t, key)
	e := envFile{URI: uri, Domain: "ostal-deploy-" + name, Key: key, SSHPort: freePort(t), DNSPort: freePort(t), SMTPPort: freePort(t), Timeout: "3m"}
	removeDomain(t, e.Domain)
	t.Cleanup(func() { removeDomain(t, e.Domain) })
	return e
}

func writeKey(t *testing.T, path string) ssh.Signer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "ostal deploy test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := ssh.NewSignerFromKey(priv)
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// localLibvirt connects to this machine's libvirtd for the test's own
// set-up and checks; the connection ends with the test.
func localLibvirt(t *testing.T) (context.Context, *virt.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := virt.Dial(ctx, virt.DefaultURI)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cancel() })
	return ctx, c
}

// removeDomain undefines a test domain and deletes its volumes (overlays
// and data); the pushed images stay for the next test.
func removeDomain(t *testing.T, domain string) {
	t.Helper()
	ctx, c := localLibvirt(t)
	if err := c.Undefine(ctx, domain); err != nil {
		t.Errorf("remove %s: %v", domain, err)
	}
	p, err := c.EnsurePool(ctx, pool, poolPath)
	if err != nil {
		t.Fatal(err)
	}
	vols, _ := c.Volumes(ctx, p)
	for _, v := range vols {
		if strings.HasPrefix(v, domain+"-") {
			if err := c.DeleteVolume(ctx, p, v); err != nil {
				t.Errorf("remove %s: %v", v, err)
			}
		}
	}
}

// ostal runs the CLI in-process and logs what it printed.
func ostal(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, out, errOut := testutil.Ostal(t, args...)
	t.Logf("ostal %s: exit %d\n%s%s", strings.Join(args, " "), code, testutil.Tail(errOut, 40), out)
	return code, out
}

func mustOstal(t *testing.T, args ...string) string {
	t.Helper()
	code, out := ostal(t, args...)
	if code != 0 {
		t.Fatalf("ostal %s: exit %d", strings.Join(args, " "), code)
	}
	return out
}

func status(t *testing.T, env string) *deploy.Status {
	t.Helper()
	var s deploy.Status
	code, out := ostal(t, "deploy", "status", env, "--json")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status --json (exit %d): %v\n%s", code, err, out)
	}
	return &s
}

func history(t *testing.T, env string) []deploy.Swap {
	t.Helper()
	var h []deploy.Swap
	if err := json.Unmarshal([]byte(mustOstal(t, "deploy", "history", env, "--json")), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// guestRun runs a command in the deployed guest as its admin.
func guestRun(t *testing.T, e envFile, command string) (string, error) {
	t.Helper()
	b, err := os.ReadFile(e.Key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := checks.Client(ctx, fmt.Sprintf("127.0.0.1:%d", e.SSHPort), "root", ssh.PublicKeys(signer))
	if err != nil {
		return "", err
	}
	defer c.Close()
	return checks.RunSSH(ctx, c, command)
}

func mustGuestRun(t *testing.T, e envFile, command string) string {
	t.Helper()
	out, err := guestRun(t, e, command)
	if err != nil {
		t.Fatalf("in the guest: %v", err)
	}
	return out
}

// digestOf is an image's sha256, as deploy names it.
func digestOf(t *testing.T, image string) string {
	t.Helper()
	img, err := deploy.OpenImage(image)
	if err != nil {
		t.Fatal(err)
	}
	return img.Digest
}

// stoppedAfter runs `ostal deploy swap` as a process that stops after
// the named step, as if killed there.
func stoppedAfter(t *testing.T, bin, step string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"deploy", "swap"}, args...)...)
	cmd.Dir = testutil.RepoRoot
	cmd.Env = append(os.Environ(), "OSTAL_TEST_STOP_AFTER="+step)
	out, err := cmd.CombinedOutput()
	t.Logf("ostal deploy swap (stopping after %s):\n%s", step, testutil.Tail(string(out), 15))
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("the swap did not stop after step %s: %v", step, err)
	}
}

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }
