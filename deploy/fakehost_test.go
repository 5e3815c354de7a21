package deploy

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/ostal/ostal/internal/virt"
)

// fakeHost is a libvirt in memory: domains (running or not, their
// definition and ostal's metadata, internal snapshots that keep the
// disks' bytes and the definition), and one pool of volumes with bytes.
type fakeHost struct {
	mu      sync.Mutex
	domains map[string]*fakeDomain
	volumes map[string]*fakeVolume
	// free is what the pool has left.
	free uint64
	// fail makes the next call of an operation return an error, once.
	fail map[string]error
	// calls counts the calls of each operation.
	calls map[string]int
	// cuts, when not empty, decide the next UploadExtents calls, one
	// each, in order: a negative one lets the call through whole, n >= 0
	// writes the call's first n bytes, then fails with errCut, as a link
	// lost mid-stream.
	cuts []int64
	// onStart runs when a domain starts, with the image under its disk:
	// the guest's own writes.
	onStart func(domain, digest string)
	// stubborn guests ignore an ACPI shutdown.
	stubborn bool
	// before runs as CreateVolume, Volumes or Snapshots is called (op,
	// the volume's name), before anything is looked at: the tests'
	// barrier for deployers racing.
	before func(op, name string)
}

type fakeDomain struct {
	def       string // the definition's XML, without metadata
	live      string // the definition it was started with
	meta      string // ostal's metadata element
	running   bool
	snapshots []*fakeSnapshot
}

type fakeSnapshot struct {
	name, def, meta string
	disks           map[string][]byte // volume name → bytes
}

type fakeVolume struct {
	v    virt.Volume
	data []byte
}

const fakePool = "/pool/"

func newFakeHost() *fakeHost {
	return &fakeHost{domains: map[string]*fakeDomain{}, volumes: map[string]*fakeVolume{}, free: 100 << 30,
		fail: map[string]error{}, calls: map[string]int{}}
}

var _ Host = (*fakeHost)(nil)

func notFound(what string) error {
	code := libvirt.ErrNoStorageVol
	if strings.HasPrefix(what, "domain") {
		code = libvirt.ErrNoDomain
	}
	return libvirt.Error{Code: uint32(code), Message: what + " not found"}
}

// op counts a call and returns the error it was told to fail with.
func (h *fakeHost) op(name string) error {
	h.calls[name]++
	if err, ok := h.fail[name]; ok {
		delete(h.fail, name)
		return err
	}
	return nil
}

// onDomain runs f on a domain, as operation op.
func (h *fakeHost) onDomain(op, name string, f func(d *fakeDomain) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op(op); err != nil {
		return err
	}
	d, err := h.domain(name)
	if err != nil {
		return err
	}
	return f(d)
}

func (h *fakeHost) domain(name string) (*fakeDomain, error) {
	if d, ok := h.domains[name]; ok {
		return d, nil
	}
	return nil, notFound("domain " + name)
}

func (h *fakeHost) Running(_ context.Context, name string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("Running"); err != nil {
		return false, err
	}
	d, ok := h.domains[name]
	return ok && d.running, nil
}

func (h *fakeHost) Define(_ context.Context, dom *virt.Domain) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("Define"); err != nil {
		return err
	}
	c := *dom
	meta := ""
	if c.Metadata != nil {
		meta = string(c.Metadata.Inner)
	}
	c.Metadata = nil
	b, err := xml.Marshal(c)
	if err != nil {
		return err
	}
	d, ok := h.domains[dom.Name]
	if !ok {
		d = &fakeDomain{}
		h.domains[dom.Name] = d
	}
	d.def, d.meta = string(b), meta
	return nil
}

func (h *fakeHost) DefinedDomain(_ context.Context, name string) (*virt.Domain, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, err := h.domain(name)
	if err != nil {
		return nil, err
	}
	var def virt.Domain
	return &def, xml.Unmarshal([]byte(d.def), &def)
}

func (h *fakeHost) Start(_ context.Context, name string) error {
	h.mu.Lock()
	if err := h.op("Start"); err != nil {
		h.mu.Unlock()
		return err
	}
	d, err := h.domain(name)
	if err == nil && d.running {
		err = fmt.Errorf("domain %s is already active", name)
	}
	if err != nil {
		h.mu.Unlock()
		return err
	}
	d.running, d.live = true, d.def
	digest := h.imageOf(d)
	h.mu.Unlock()
	if h.onStart != nil {
		h.onStart(name, digest)
	}
	return nil
}

func (h *fakeHost) Shutdown(_ context.Context, name string) (time.Duration, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("Shutdown"); err != nil {
		return 0, err
	}
	d, err := h.domain(name)
	if err != nil {
		return 0, err
	}
	if h.stubborn {
		return 0, fmt.Errorf("domain %q did not power off after 2m0s: %w", name, context.DeadlineExceeded)
	}
	d.running = false
	return 4 * time.Second, nil
}

func (h *fakeHost) Destroy(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("Destroy"); err != nil {
		return err
	}
	if d, ok := h.domains[name]; ok {
		d.running = false
	}
	return nil
}

func (h *fakeHost) Metadata(_ context.Context, name, ns string) (meta string, err error) {
	return meta, h.onDomain("Metadata", name, func(d *fakeDomain) error {
		meta = d.meta
		return nil
	})
}

func (h *fakeHost) SetMetadata(_ context.Context, name, ns, key, inner string) error {
	return h.onDomain("SetMetadata", name, func(d *fakeDomain) error {
		d.meta = inner
		return nil
	})
}

func (h *fakeHost) Snapshot(_ context.Context, name, snap, _ string, devs []string) error {
	return h.onDomain("Snapshot", name, func(d *fakeDomain) error {
		if d.running {
			return fmt.Errorf("the fake takes snapshots of stopped guests only")
		}
		if slices.ContainsFunc(d.snapshots, func(s *fakeSnapshot) bool { return s.name == snap }) {
			return fmt.Errorf("snapshot %s already exists", snap)
		}
		var def virt.Domain
		if err := xml.Unmarshal([]byte(d.def), &def); err != nil {
			return err
		}
		s := &fakeSnapshot{name: snap, def: d.def, meta: d.meta, disks: map[string][]byte{}}
		for _, disk := range def.Devices.Disks {
			if slices.Contains(devs, disk.Target.Dev) {
				v := h.volumes[path.Base(disk.Source.File)]
				s.disks[v.v.Name] = slices.Clone(v.data)
			}
		}
		d.snapshots = append(d.snapshots, s)
		return nil
	})
}

func (h *fakeHost) HasSnapshot(_ context.Context, name, snap string) (bool, error) {
	names, err := h.Snapshots(context.Background(), name)
	return slices.Contains(names, snap), err
}

func (h *fakeHost) Snapshots(_ context.Context, name string) ([]string, error) {
	if h.before != nil {
		h.before("Snapshots", "")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	d, err := h.domain(name)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range d.snapshots {
		names = append(names, s.name)
	}
	return names, nil
}

func (h *fakeHost) DeleteSnapshot(_ context.Context, name, snap string) error {
	return h.onDomain("DeleteSnapshot", name, func(d *fakeDomain) error {
		d.snapshots = slices.DeleteFunc(d.snapshots, func(s *fakeSnapshot) bool { return s.name == snap })
		return nil
	})
}

// RevertSnapshot puts the disks and the definition (with its metadata)
// back as they were; the guest is stopped, as it was then.
func (h *fakeHost) RevertSnapshot(_ context.Context, name, snap string) error {
	return h.onDomain("RevertSnapshot", name, func(d *fakeDomain) error {
		for _, s := range d.snapshots {
			if s.name == snap {
				for v, b := range s.disks {
					h.volumes[v].data = slices.Clone(b)
				}
				d.def, d.meta, d.running = s.def, s.meta, false
				return nil
			}
		}
		return fmt.Errorf("no snapshot %s", snap)
	})
}

// CreateVolume refuses a name the pool has, as libvirt does (checked and
// added under the pool's lock). fail["CreateVolume NAME"] fails the
// creation of that volume only.
func (h *fakeHost) CreateVolume(_ context.Context, v virt.Volume) (string, error) {
	if h.before != nil {
		h.before("CreateVolume", v.Name)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("CreateVolume"); err != nil {
		return "", err
	}
	if err := h.op("CreateVolume " + v.Name); err != nil {
		return "", err
	}
	if _, ok := h.volumes[v.Name]; ok {
		return "", libvirt.Error{Code: uint32(libvirt.ErrStorageVolExist), Message: fmt.Sprintf("storage volume '%s' exists already", v.Name)}
	}
	h.volumes[v.Name] = &fakeVolume{v: v}
	return fakePool + v.Name, nil
}

func (h *fakeHost) DeleteVolume(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("DeleteVolume"); err != nil {
		return err
	}
	delete(h.volumes, name)
	return nil
}

func (h *fakeHost) VolumePath(_ context.Context, name string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.volumes[name]; !ok {
		return "", notFound("volume " + name)
	}
	return fakePool + name, nil
}

func (h *fakeHost) VolumeSize(_ context.Context, name string) (uint64, uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.volumes[name]
	if !ok {
		return 0, 0, notFound("volume " + name)
	}
	return v.v.Capacity.Value, uint64(len(v.data)), nil
}

func (h *fakeHost) Volumes(context.Context) ([]string, error) {
	if h.before != nil {
		h.before("Volumes", "")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var names []string
	for n := range h.volumes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (h *fakeHost) ReadVolume(_ context.Context, name string, start func() io.Writer, offset, length uint64) error {
	h.mu.Lock()
	v, ok := h.volumes[name]
	var b []byte
	if ok {
		b = make([]byte, length)
		copy(b, v.data[min(offset, uint64(len(v.data))):])
	}
	h.mu.Unlock()
	if !ok {
		return notFound("volume " + name)
	}
	_, err := start().Write(b)
	return err
}

func (h *fakeHost) UploadExtents(_ context.Context, name string, f *os.File, extents []virt.Extent, progress func(int64)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("UploadExtents"); err != nil {
		return err
	}
	v, ok := h.volumes[name]
	if !ok {
		return notFound("volume " + name)
	}
	left := int64(-1)
	if len(h.cuts) > 0 {
		left, h.cuts = h.cuts[0], h.cuts[1:]
	}
	for _, e := range extents {
		cut := left >= 0 && left < e.Length
		if cut {
			e.Length = left
		}
		left -= e.Length
		b := make([]byte, e.Length)
		if _, err := f.ReadAt(b, e.Offset); err != nil {
			return err
		}
		if end := e.Offset + e.Length; int64(len(v.data)) < end {
			v.data = append(v.data, make([]byte, end-int64(len(v.data)))...)
		}
		copy(v.data[e.Offset:], b)
		progress(e.Length)
		if cut {
			return errCut
		}
	}
	return nil
}

var errCut = errors.New("connection lost mid-upload")

func (h *fakeHost) PoolSpace(context.Context) (uint64, uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return 200 << 30, h.free, nil
}

func (h *fakeHost) Close() error { return nil }

// imageOf is the digest of the image under a domain's OS disk: its
// overlay's backing volume, sha256-DIGEST.qcow2.
func (h *fakeHost) imageOf(d *fakeDomain) string {
	var def virt.Domain
	if xml.Unmarshal([]byte(d.def), &def) != nil || len(def.Devices.Disks) == 0 {
		return ""
	}
	ov, ok := h.volumes[path.Base(def.Devices.Disks[0].Source.File)]
	if !ok || ov.v.BackingStore == nil {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(path.Base(ov.v.BackingStore.Path), "sha256-"), ".qcow2")
}
