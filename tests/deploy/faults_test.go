package deploy_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ostal/ostal/deploy"
	"github.com/ostal/ostal/internal/virt"
	"github.com/ostal/ostal/tests/testutil"
)

// cutConn is the real connection to libvirt, cut after a number of
// bytes sent: the one fault a real link cannot be made to show on cue.
type cutConn struct {
	net.Conn
	left atomic.Int64
}

var errCut = errors.New("connection cut by the test")

func (c *cutConn) Write(b []byte) (int, error) {
	if c.left.Add(-int64(len(b))) < 0 {
		c.Conn.Close()
		return 0, errCut
	}
	return c.Conn.Write(b)
}

// A connection dropped half-way through a push: a clear error, no volume
// that looks complete, and the next push sends the image again and checks
// it.
func TestPushDroppedConnection(t *testing.T) {
	buildImages(t)
	e := newEnv(t, "cut", "qemu:///system")
	env := e.write(t, t.TempDir())
	ctx := context.Background()
	img, err := deploy.OpenImage(images.good)
	if err != nil {
		t.Fatal(err)
	}
	removeVolume(t, img.VolumeName())
	environment, err := deploy.LoadEnvironment(env)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	d, err := deploy.Connect(ctx, environment, deploy.Options{Out: &log, WrapConn: func(c net.Conn) net.Conn {
		cc := &cutConn{Conn: c}
		cc.left.Store(img.Size / 3)
		return cc
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Push(ctx, img)
	d.Close()
	if err == nil || !strings.Contains(err.Error(), "run the push again") {
		t.Fatalf("a push over a dropped connection: %v", err)
	}
	t.Logf("the cut push says: %v", err)

	out := mustOstal(t, "deploy", "push", env, images.good, "--json")
	if !strings.Contains(out, `"already_there": false`) {
		t.Errorf("after a cut push, the image passed for already there:\n%s", out)
	}
	if got := fileDigest(t, filepath.Join(poolPath, img.VolumeName())); got != img.Digest {
		t.Errorf("the pushed volume has sha256 %s, the image %s", got, img.Digest)
	}
	if out := mustOstal(t, "deploy", "push", env, images.good, "--json"); !strings.Contains(out, `"bytes_sent": 0`) {
		t.Errorf("a second push sent something:\n%s", out)
	}
}

// A pool too small for the image: refused before anything is sent.
func TestPushPoolFull(t *testing.T) {
	buildImages(t)
	e := newEnv(t, "full", "qemu:///system")
	dir := t.TempDir()
	small := filepath.Join(dir, "pool")
	os.MkdirAll(small, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "ostal-test-full", small).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		removePool(t, "ostal-deploy-full")
		exec.Command("umount", small).Run()
	})
	text := strings.NewReplacer("pool: "+pool, "pool: ostal-deploy-full", "pool_path: "+poolPath, "pool_path: "+small).Replace(readFile(t, e.write(t, dir)))
	env := filepath.Join(dir, "full.yaml")
	os.WriteFile(env, []byte(text), 0o644)

	code, _, errOut := testutil.Ostal(t, "deploy", "push", env, images.good)
	if code != 1 || !strings.Contains(errOut, "MiB free") || !strings.Contains(errOut, "nothing was sent") {
		t.Fatalf("a push to a full pool: exit %d\n%s", code, errOut)
	}
	if entries, _ := os.ReadDir(small); len(entries) != 0 {
		t.Errorf("a refused push left %d files in the pool", len(entries))
	}
}

// Bad environments: each error names the environment file and the field.
func TestBadEnvironments(t *testing.T) {
	sshd := startSSHD(t)
	dir := t.TempDir()
	stranger := filepath.Join(dir, "stranger")
	writeKey(t, stranger)
	cases := []struct{ name, uri, want string }{
		{"no host", "qemu+ssh:///system", "uri"},
		{"not libvirt", "vbox:///session", "uri"},
		{"unreachable", "qemu+ssh://root@127.0.0.1:1/system?keyfile=" + sshd.ClientKey + "&known_hosts=" + sshd.KnownHosts, "connection refused"},
		{"bad credentials", sshd.URI(stranger), "unable to authenticate"},
		{"unknown host key", "qemu+ssh://root@127.0.0.1:" + itoa(sshd.Port) + "/system?keyfile=" + sshd.ClientKey + "&known_hosts=" + filepath.Join(dir, "empty"), "key is unknown"},
	}
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := envFile{URI: c.uri, Domain: "ostal-deploy-bad", Key: stranger, SSHPort: 2222, DNSPort: 5353, Timeout: "1m"}
			env := e.write(t, t.TempDir())
			start := time.Now()
			code, _, errOut := testutil.Ostal(t, "deploy", "status", env)
			t.Logf("%s (%.1f s)", errOut, time.Since(start).Seconds())
			if code == 0 || !strings.Contains(errOut, env) || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, want an error naming %s and %q:\n%s", code, env, c.want, errOut)
			}
		})
	}
}

func removeVolume(t *testing.T, name string) {
	t.Helper()
	ctx, c := localLibvirt(t)
	p, err := c.EnsurePool(ctx, pool, poolPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteVolume(ctx, p, name); err != nil {
		t.Fatal(err)
	}
}

func removePool(t *testing.T, name string) {
	t.Helper()
	ctx, c := localLibvirt(t)
	if err := c.RemovePool(ctx, name); err != nil {
		t.Error(err)
	}
}

// A domain of that name that ostal did not deploy is never redefined.
func TestForeignDomainRefused(t *testing.T) {
	buildImages(t)
	e := newEnv(t, "foreign", "qemu:///system")
	env := e.write(t, t.TempDir())
	ctx, c := localLibvirt(t)
	foreign := &virt.Domain{Type: "qemu", Name: e.Domain, Memory: virt.Memory{Unit: "MiB", Value: 128}, VCPU: 1,
		OS: virt.OS{Type: virt.OSType{Arch: "x86_64", Machine: "pc", Value: "hvm"}},
		Devices: virt.Devices{Disks: []virt.Disk{{Type: "file", Device: "disk", Driver: virt.DiskDriver{Name: "qemu", Type: "raw"},
			Source: virt.DiskSource{File: "/var/lib/precious.img"}, Target: virt.DiskTarget{Dev: "vda", Bus: "virtio"}}}}}
	if err := c.Define(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := testutil.Ostal(t, "deploy", "swap", env, images.good, "--now")
	if code != 1 || !strings.Contains(errOut, "ostal did not deploy it") {
		t.Fatalf("a swap onto a foreign domain: exit %d\n%s", code, errOut)
	}
	def, err := c.DefinedDomain(ctx, e.Domain)
	if err != nil || len(def.Devices.Disks) != 1 || def.Devices.Disks[0].Source.File != "/var/lib/precious.img" {
		t.Errorf("the foreign domain was changed: %v %+v", err, def)
	}
}
