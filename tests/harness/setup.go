package harness

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/internal/virt"
	"github.com/ostal/ostal/provision"
	"github.com/ostal/ostal/tests/checks"
)

// run is one test run's libvirt objects.
type run struct {
	conn        *virt.Conn
	opts        Options
	pool        libvirt.StoragePool
	id          string
	imageDigest string
	volumes     []string
	guest       *Guest
	ca          *testCA
	services    []string
	webNames    []string
	probes      probeMemory
	dir         string
	say         func(format string, args ...any)
}

func newRun(ctx context.Context, conn *virt.Conn, o Options, dir string, say func(string, ...any)) (_ *run, err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// What this run started outside libvirt (the test CA, the probe
	// wire) ends with it if setting up fails half-way.
	var stops []func()
	defer func() {
		if err != nil {
			for _, stop := range stops {
				stop()
			}
		}
	}()
	r := &run{conn: conn, opts: o, id: fmt.Sprintf("%d-%s", os.Getpid(), randomID()), dir: dir, say: say,
		probes: probeMemory{path: filepath.Join(builders.DefaultCacheDir(), "kvm-probe")}}
	if r.pool, err = conn.EnsurePool(ctx, o.Pool, o.PoolPath); err != nil {
		return nil, err
	}
	if err := r.removeLeftovers(ctx); err != nil {
		return nil, err
	}
	signer, keyPEM, pub, err := adminKey()
	if err != nil {
		return nil, err
	}
	// The manifest says what the image serves; a bare qcow2 (copied away
	// from its manifest) is tested as an image without services.
	manifest, err := builders.ReadManifest(o.Image)
	if errors.Is(err, fs.ErrNotExist) {
		say("no manifest beside %s: testing it as an image without services", o.Image)
		manifest, err = &builders.Manifest{}, nil
	}
	if err != nil {
		return nil, err
	}
	tcp := append([]int{22}, o.Forwards...)
	if len(manifest.Services) > 0 {
		tcp = append(tcp, ServiceTCPPorts...)
	}
	if o.MemoryMiB == 0 {
		// MariaDB, PHP, Django and the rest want more than a bare system.
		o.MemoryMiB = 1024
		if len(manifest.Services) > 0 {
			o.MemoryMiB = 2048
		}
	}
	forwards := map[int]int{}
	hostPorts, err := freePorts(len(tcp))
	if err != nil {
		return nil, err
	}
	for i, p := range tcp {
		forwards[p] = hostPorts[i]
	}
	r.guest = &Guest{
		conn: conn, image: o.Image, swapImage: o.SwapImage, key: signer, keyPEM: keyPEM,
		readyTimeout: o.ReadyTimeout, progress: say, overlayFor: r.overlayFor,
		spec: domainSpec{
			Name: Prefix + r.id, Accel: o.Accel, Firmware: o.Firmware, MemoryMiB: o.MemoryMiB, VCPUs: o.VCPUs,
			Pool: o.Pool, SerialLog: filepath.Join(dir, "serial.log"), ReadyFile: filepath.Join(dir, "ready.log"),
			Forwards: forwards, RunID: r.id, Owner: os.Getpid(),
			Credentials: map[string]string{"ssh.authorized_keys.root": pub},
		},
		domain: manifest.Domain,
	}
	r.guest.session.Dial = r.guest.login
	r.services = manifest.Services
	if len(manifest.Services) > 0 {
		if r.guest.wire, err = newProbeWire(); err != nil {
			return nil, err
		}
		stops = append(stops, r.guest.wire.Close)
		r.guest.spec.ProbeNetdev = r.guest.wire.netdev("n1")
	}
	r.webNames = provision.NewSite(manifest.Domain, manifest.Name, manifest.Services).WebNames()
	if slices.Contains(manifest.Services, "tls") {
		if err := r.startTestCA(ctx); err != nil {
			return nil, err
		}
		stops = append(stops, r.ca.Stop)
	}
	if r.guest.spec.RootVolume, err = r.overlayFor(ctx, o.Image); err != nil {
		return nil, err
	}
	if o.NoDataVolume {
		return r, nil
	}
	r.guest.spec.DataVolume = r.name("data.qcow2")
	if r.guest.dataPath, err = conn.CreateVolume(ctx, r.pool, virt.Volume{Name: r.guest.spec.DataVolume,
		Capacity: virt.Capacity{Unit: "MiB", Value: uint64(o.DataMiB)}, Target: virt.VolumeTarget{Format: virt.Format{Type: "qcow2"}, Compat: "1.1"}}); err != nil {
		return nil, err
	}
	r.volumes = append(r.volumes, r.guest.spec.DataVolume)
	return r, nil
}

// ServiceTCPPorts are forwarded for an image with services: those it
// serves, and those that must stay closed (submission, MariaDB, Radicale,
// uWSGI, Mailman's REST API and LMTP), which the firewall checks knock on.
var ServiceTCPPorts = []int{25, 53, 80, 443, 587, 3306, 5232, 8000, 8001, 8024}

// startTestCA gives the guest a local ACME CA in place of Let's Encrypt.
func (r *run) startTestCA(ctx context.Context) error {
	g := r.guest
	ca, err := startTestCA(ctx, r.dir, g.spec.Forwards[80], g.spec.Forwards[443])
	if err != nil {
		return err
	}
	r.ca = ca
	g.roots = ca.roots
	g.acme = &acmeRelay{ca: ca.Listen}
	g.spec.Credentials["ostal.acme-directory"] = ca.Directory
	g.spec.Credentials["ostal.acme-ca"] = string(ca.CAPEM)
	r.say("test ACME CA (pebble) at %s, %s for the guest", ca.Listen, ca.Directory)
	return nil
}

func (r *run) name(suffix string) string { return Prefix + r.id + "-" + suffix }

// overlayFor copies an image into the pool and makes a fresh overlay on
// it, returning the overlay's volume name.
func (r *run) overlayFor(ctx context.Context, image string) (string, error) {
	digest, size, virtualSize, err := inspect(image)
	if err != nil {
		return "", err
	}
	if image == r.opts.Image {
		r.imageDigest = digest
	}
	base := r.name("image-" + digest[:12] + ".qcow2")
	basePath, err := r.conn.VolumePath(ctx, r.pool, base)
	if virt.IsNotFound(err) {
		r.say("copying %s into pool %s", image, r.opts.Pool)
		basePath, err = r.upload(ctx, base, image, size)
	}
	if err != nil {
		return "", err
	}
	overlay := r.name("root.qcow2")
	if err := r.conn.DeleteVolume(ctx, r.pool, overlay); err != nil {
		return "", err
	}
	_, err = r.conn.CreateVolume(ctx, r.pool, virt.Volume{Name: overlay,
		Capacity:     virt.Capacity{Unit: "B", Value: virtualSize},
		Target:       virt.VolumeTarget{Format: virt.Format{Type: "qcow2"}, Compat: "1.1"},
		BackingStore: &virt.BackingStore{Path: basePath, Format: virt.Format{Type: "qcow2"}}})
	if err != nil {
		return "", err
	}
	if !slices.Contains(r.volumes, overlay) {
		r.volumes = append(r.volumes, overlay)
	}
	return overlay, nil
}

func (r *run) upload(ctx context.Context, name, image string, size int64) (string, error) {
	path, err := r.conn.CreateVolume(ctx, r.pool, virt.Volume{Name: name,
		Capacity: virt.Capacity{Unit: "B", Value: uint64(size)}, Target: virt.VolumeTarget{Format: virt.Format{Type: "raw"}}})
	if err != nil {
		return "", err
	}
	r.volumes = append(r.volumes, name)
	f, err := os.Open(image)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return path, r.conn.Upload(ctx, r.pool, name, f, uint64(size))
}

// inspect returns an image file's sha256, size and virtual disk size.
func inspect(image string) (digest string, size int64, virtualSize uint64, err error) {
	f, err := os.Open(image)
	if err != nil {
		return "", 0, 0, err
	}
	defer f.Close()
	hdr := make([]byte, 32)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return "", 0, 0, fmt.Errorf("read %s: %w", image, err)
	}
	virtualSize = binary.BigEndian.Uint64(hdr[24:])
	h := sha256.New()
	f.Seek(0, io.SeekStart)
	if size, err = io.Copy(h, f); err != nil {
		return "", 0, 0, fmt.Errorf("checksum %s: %w", image, err)
	}
	return hex.EncodeToString(h.Sum(nil)), size, virtualSize, nil
}

// boot starts the guest. With Accel "auto" it first tries KVM and keeps it
// only if the guest writes on its console within 20 s under it: a
// /dev/kvm node alone proves nothing. The outcome is remembered until the
// host reboots, so later runs do not pay for the probe again.
func (r *run) boot(ctx context.Context) error {
	g := r.guest
	if g.spec.Accel != "auto" {
		if err := g.define(ctx); err != nil {
			return err
		}
		return g.boot(ctx)
	}
	switch remembered := r.probes.get(); {
	case remembered == "qemu":
		r.say("KVM did not run a guest on this host since it booted: using TCG (software emulation)")
	case r.probeKVM(ctx):
		r.probes.put("kvm")
		r.say("KVM works: the guest runs accelerated")
		return g.waitReadyAfterProbe(ctx)
	default:
		r.probes.put("qemu")
		r.say("KVM does not run guests here: using TCG (software emulation)")
	}
	g.spec.Accel = "qemu"
	if err := g.define(ctx); err != nil {
		return err
	}
	return g.boot(ctx)
}

func (r *run) probeKVM(ctx context.Context) bool {
	g := r.guest
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return false
	}
	g.spec.Accel = "kvm"
	if err := g.define(ctx); err != nil {
		return false
	}
	os.Remove(g.spec.SerialLog)
	g.started = time.Now()
	if err := g.conn.Start(ctx, g.spec.Name); err != nil {
		return false
	}
	for time.Since(g.started) < 20*time.Second && ctx.Err() == nil {
		if b, _ := os.ReadFile(g.spec.SerialLog); len(strings.TrimSpace(string(b))) > 0 {
			return true
		}
		time.Sleep(250 * time.Millisecond)
	}
	g.conn.Destroy(context.WithoutCancel(ctx), g.spec.Name)
	return false
}

// probeMemory remembers the KVM probe's outcome for the host's current
// boot.
type probeMemory struct{ path string }

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

func (p probeMemory) get() string {
	b, err := os.ReadFile(p.path)
	if err != nil {
		return ""
	}
	id, accel, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	if id != bootID() {
		return ""
	}
	return accel
}

func (p probeMemory) put(accel string) {
	os.MkdirAll(filepath.Dir(p.path), 0o755)
	os.WriteFile(p.path, []byte(bootID()+" "+accel+"\n"), 0o644)
}

// remove deletes the domain and every volume of this run.
func (r *run) remove(ctx context.Context) error {
	r.guest.dropClient()
	if r.ca != nil {
		r.ca.Stop()
	}
	if r.guest.wire != nil {
		r.guest.wire.Close()
	}
	if err := r.conn.Undefine(ctx, r.guest.spec.Name); err != nil {
		return err
	}
	for _, v := range r.volumes {
		if err := r.conn.DeleteVolume(ctx, r.pool, v); err != nil {
			return err
		}
	}
	return nil
}

// removeLeftovers deletes the domains and volumes of earlier runs whose
// process is gone (killed runs); those of live runs stay.
func (r *run) removeLeftovers(ctx context.Context) error {
	doms, err := r.conn.Domains(ctx, Prefix)
	if err != nil {
		return err
	}
	for _, d := range doms {
		if ownerAlive(d) {
			continue
		}
		r.say("removing domain %s left by a killed run", d)
		if err := r.conn.Undefine(ctx, d); err != nil {
			return err
		}
	}
	vols, err := r.conn.Volumes(ctx, r.pool)
	if err != nil {
		return err
	}
	for _, v := range vols {
		if strings.HasPrefix(v, Prefix) && !ownerAlive(v) {
			r.say("removing volume %s left by a killed run", v)
			if err := r.conn.DeleteVolume(ctx, r.pool, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// RunPID reads the pid of the run that made a domain or volume, from a
// name such as ostal-test-1234-ab12cd34-data.qcow2.
func RunPID(name string) (int, bool) {
	if !strings.HasPrefix(name, Prefix) {
		return 0, false
	}
	pidText, _, _ := strings.Cut(strings.TrimPrefix(name, Prefix), "-")
	pid, err := strconv.Atoi(pidText)
	return pid, err == nil
}

// ownerAlive: the run that made name is still running (or name is not a
// run's, and so not ours to judge).
func ownerAlive(name string) bool {
	pid, ok := RunPID(name)
	if !ok {
		return true
	}
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// adminKey makes the run's throwaway admin key.
func adminKey() (ssh.Signer, []byte, string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "ostal test admin")
	if err != nil {
		return nil, nil, "", err
	}
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " ostal-test-admin"
	return signer, pem.EncodeToMemory(block), pub, nil
}

// freePorts finds n distinct free ports on 127.0.0.1: each stays bound
// until all are found, since a port just closed may be handed out again
// (two of a run's forwards once got the same port, and QEMU refused).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// saveJournal copies the guest's journal into the report folder.
func (r *run) saveJournal(ctx context.Context) {
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	out, err := r.guest.Run(jctx, "journalctl -b --no-pager -o short-monotonic")
	if err != nil {
		out = fmt.Sprintf("journal unavailable: %v\n", err)
	}
	os.WriteFile(filepath.Join(r.dir, "journal.txt"), []byte(out), 0o644)
	// Where this boot's time went, as systemd saw it: every report then
	// carries the profile that a slow boot needs, without another boot.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	out, err = r.guest.Run(pctx, bootProfileCommand)
	if err != nil {
		out = fmt.Sprintf("boot profile unavailable: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(r.dir, "boot-profile.txt"), []byte(out), 0o644)
}

// bootProfileCommand prints the boot's phases, the units by start-up time
// and the chain of units that held back the last one to start.
const bootProfileCommand = "systemd-analyze time --no-pager; echo; systemd-analyze critical-chain --no-pager; echo; systemd-analyze blame --no-pager | head -n 40"

// waitHealthy polls the guest's health report until every service is ok;
// it returns the time from domain start (0 if never) and the last report.
func (r *run) waitHealthy(ctx context.Context) (float64, []string) {
	g := r.guest
	deadline := g.started.Add(g.readyTimeout)
	var last string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		t0 := time.Now()
		hctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		out, err := g.Run(hctx, checks.HealthWaitCommand)
		cancel()
		if err == nil {
			after := time.Since(g.started).Seconds()
			r.say("every service is healthy %.1f s after start", after)
			return after, strings.Split(strings.TrimSpace(out), "\n")
		}
		if out != last {
			r.say("  health: %s", strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(out), "\n", "; ")), " "))
			last = out
		}
		// The guest waited (--wait); a quick answer (a refused volume,
		// an image older than --wait) is asked again after a pause.
		time.Sleep(time.Until(t0.Add(2 * time.Second)))
	}
	r.say("the services did not all become healthy within %s", g.readyTimeout)
	return 0, strings.Split(strings.TrimSpace(last), "\n")
}

func (r *run) screenshots(ctx context.Context) []Screenshot {
	if len(r.webNames) == 0 {
		return nil
	}
	addr, err := r.guest.Addr(443)
	if err != nil {
		return nil
	}
	r.say("screenshots of %s", strings.Join(r.webNames, ", "))
	return screenshots(ctx, r.dir, r.webNames, addr)
}

// keepAccess leaves the admin key of a kept guest in the report folder
// and says how to log in.
func (r *run) keepAccess() {
	key := filepath.Join(r.dir, "admin-key")
	if err := os.WriteFile(key, r.guest.keyPEM, 0o600); err != nil {
		r.say("saving the admin key: %v", err)
		return
	}
	r.say("log in with: ssh -i %s -p %d -o StrictHostKeyChecking=no root@127.0.0.1", key, r.guest.spec.Forwards[22])
}
