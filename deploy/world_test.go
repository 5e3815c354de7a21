package deploy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/internal/virt"
)

// fakeClock is the deployers' time in the tests: it moves only when told,
// or by what a wait would have taken.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
	// onAfter runs when a deployer waits, after the wait.
	onAfter func()
	// ticks is the heartbeat's ticker; nil never ticks.
	ticks chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.advance(d)
	if c.onAfter != nil {
		c.onAfter()
	}
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

func (c *fakeClock) Ticker(time.Duration) (<-chan time.Time, func()) { return c.ticks, func() {} }

// world is one environment on a fake host, with images to swap between
// and deployers that can be killed after any step.
type world struct {
	t     *testing.T
	host  *fakeHost
	env   *Environment
	clock *fakeClock
	img   map[string]*Image // by name: A, B
	// unhealthy makes the health wait of an image (by name) fail.
	unhealthy map[string]error
	// writes is what each image (by name) writes on the data volume as
	// it starts.
	writes map[string]string
	// onHealth runs in each health wait, with the image's name.
	onHealth    func(name string)
	healthCalls int
	// booted lists the image (by name) of each health wait and the swap
	// whose candidate the guest was started as: "B as ostal-…" or "A".
	booted []string
	// opened lists the swaps whose ports openPublic opened; openFails
	// fails its next call.
	opened    []string
	openFails error
	dead      map[int]bool
	nextPID   int
	out       bytes.Buffer
}

// killed is what a deployer stopped by a test "dies" with.
type killed struct{}

const testOperator, otherOperator = "ana@laptop", "bo@desk"

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "deployer")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "test")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(block), 0o600))
	envPath := filepath.Join(dir, "test.yaml")
	require.NoError(t, os.WriteFile(envPath, []byte(`uri: qemu:///system
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
  ssh_key: `+key+`
  timeout: 5m
  checks: ["ssh"]
`), 0o644))
	env, err := LoadEnvironment(envPath)
	require.NoError(t, err)
	w := &world{t: t, host: newFakeHost(), env: env, img: map[string]*Image{},
		clock:     &fakeClock{t: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)},
		unhealthy: map[string]error{}, writes: map[string]string{}, dead: map[int]bool{}, nextPID: 100}
	for _, name := range []string{"A", "B"} {
		w.img[name] = testImage(t, dir, name)
	}
	w.host.onStart = func(_, digest string) {
		if s, ok := w.writes[w.name(digest)]; ok {
			w.setData(s)
		}
	}
	return w
}

// testImage writes a small qcow2-looking image (the magic, a virtual
// size, data after the header).
func testImage(t *testing.T, dir, name string) *Image {
	b := make([]byte, 2*headerLen)
	copy(b, "QFI\xfb")
	binary.BigEndian.PutUint64(b[24:], 1<<30)
	copy(b[headerLen:], "the system of image "+name)
	p := filepath.Join(dir, name+".qcow2")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	sum := sha256.Sum256(b)
	return &Image{Path: p, Digest: hex.EncodeToString(sum[:]), Size: int64(len(b)), VirtualSize: 1 << 30,
		Manifest: &builders.Manifest{Name: "image-" + name, Services: []string{"ssh"}}}
}

// deployer is one run of ostal by who on machine, stopping (as if
// killed) after the step stopAfter names.
func (w *world) deployer(who, machine string, stopAfter Step) *Deployer {
	d := newDeployer(w.env, w.host, Options{Out: &w.out, StopAfter: stopAfter, Exit: func(int) { panic(killed{}) }})
	d.who, d.hostname, d.machine = who, strings.Split(who, "@")[1], machine
	d.pid, w.nextPID = w.nextPID, w.nextPID+1
	d.clock = w.clock
	d.alive = func(pid int) bool { return !w.dead[pid] }
	d.health = func(_ context.Context, _ *State, rel Release) error {
		w.healthCalls++
		w.clock.advance(40 * time.Second) // the boot
		name := w.name(rel.Digest)
		if running, running2 := w.running(), w.imageName(); !running || running2 != name {
			return fmt.Errorf("health of %s asked while the guest runs %q (running %v)", name, running2, running)
		}
		if c := w.candidate(true); c != "" {
			name += " as " + c
		}
		w.booted = append(w.booted, name)
		if w.onHealth != nil {
			w.onHealth(w.name(rel.Digest))
		}
		return w.unhealthy[w.name(rel.Digest)]
	}
	d.openPublic = func(_ context.Context, _ *State, _ Release, swap string) error {
		if err := w.openFails; err != nil {
			w.openFails = nil
			return err
		}
		w.opened = append(w.opened, swap)
		return nil
	}
	return d
}

// candidate is the swap whose candidate the domain's definition (or,
// live, the one its guest was started with) makes it: "" for none.
func (w *world) candidate(live bool) string {
	w.host.mu.Lock()
	defer w.host.mu.Unlock()
	d := w.host.domains[w.env.Domain]
	def := d.def
	if live {
		def = d.live
	}
	var dom virt.Domain
	require.NoError(w.t, xml.Unmarshal([]byte(def), &dom))
	if dom.SysInfo != nil {
		for _, e := range dom.SysInfo.Entries {
			if e.Name == "opt/io.systemd.credentials/"+candidateCredential {
				return e.Value
			}
		}
	}
	return ""
}

// run runs one command of d; a deployer stopped by the test hook (or by
// onHealth) dies there, its process gone.
func (w *world) run(d *Deployer, f func(d *Deployer) (*Swap, error)) (sw *Swap, err error, died bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(killed); !ok {
				panic(r)
			}
			died = true
		}
		// Its process ends with the command, or dies with it.
		w.dead[d.pid] = true
	}()
	sw, err = f(d)
	return sw, err, false
}

func (w *world) swap(who, name string, stopAfter Step) (*Swap, error, bool) {
	return w.run(w.deployer(who, "machine-1", stopAfter), func(d *Deployer) (*Swap, error) {
		return d.Swap(context.Background(), w.img[name], Now)
	})
}

// mustSwap swaps and expects it done, without error.
func (w *world) mustSwap(name string) {
	w.t.Helper()
	_, err, died := w.swap(testOperator, name, "")
	require.NoError(w.t, err)
	require.False(w.t, died)
}

// killedAfter runs a swap to name that dies right after step.
func (w *world) killedAfter(step Step, name string) {
	w.t.Helper()
	_, err, died := w.swap(testOperator, name, step)
	require.True(w.t, died, "the swap did not stop after %s: %v", step, err)
}

// push puts an image into the pool.
func (w *world) push(name string) {
	w.t.Helper()
	_, err := w.deployer(testOperator, "machine-1", "").Push(context.Background(), w.img[name])
	require.NoError(w.t, err)
}

func (w *world) dataVolume() *fakeVolume {
	return w.host.volumes[w.env.VolumeName(w.env.DataVolumes[0])]
}

func (w *world) data() string { return string(bytes.TrimRight(w.dataVolume().data, "\x00")) }

func (w *world) setData(s string) {
	w.host.mu.Lock()
	defer w.host.mu.Unlock()
	w.dataVolume().data = []byte(s)
}

func (w *world) name(digest string) string {
	for n, img := range w.img {
		if img.Digest == digest {
			return n
		}
	}
	return digest
}

// imageName is the image under the domain's disk, by name.
func (w *world) imageName() string {
	w.host.mu.Lock()
	defer w.host.mu.Unlock()
	d, ok := w.host.domains[w.env.Domain]
	if !ok {
		return ""
	}
	return w.name(w.host.imageOf(d))
}

func (w *world) running() bool {
	r, _ := w.host.Running(context.Background(), w.env.Domain)
	return r
}

func (w *world) state() *State {
	w.t.Helper()
	meta, err := w.host.Metadata(context.Background(), w.env.Domain, MetadataNS)
	require.NoError(w.t, err)
	st, err := parseState(meta)
	require.NoError(w.t, err)
	return st
}

// edit changes the record in the domain's metadata, as another run
// would have written it.
func (w *world) edit(change func(*State)) {
	w.t.Helper()
	st := w.state()
	change(st)
	x, err := st.xml()
	require.NoError(w.t, err)
	require.NoError(w.t, w.host.SetMetadata(context.Background(), w.env.Domain, MetadataNS, metadataKey, x))
}

func (w *world) results() []Result {
	var r []Result
	for _, h := range w.state().History {
		r = append(r, h.Result)
	}
	return r
}

func (w *world) lastSwap() Swap {
	h := w.state().History
	require.NotEmpty(w.t, h)
	return h[len(h)-1]
}

var errBoom = errors.New("boom")
