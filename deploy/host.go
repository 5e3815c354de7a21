package deploy

import (
	"context"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/ostal/ostal/internal/virt"
)

// Host is everything the deployer asks of the libvirt it deploys to:
// the domain's life, its definition and metadata, its internal
// snapshots, and the volumes of the environment's pool. A *virt.Conn
// bound to that pool (virtHost) is the real one; the tests have one in
// memory. A missing domain or volume is an error virt.IsNotFound
// recognises, as libvirt's.
type Host interface {
	// Running is true while the domain's QEMU is alive; a missing domain
	// is not running.
	Running(ctx context.Context, domain string) (bool, error)
	Define(ctx context.Context, d *virt.Domain) error
	DefinedDomain(ctx context.Context, domain string) (*virt.Domain, error)
	Start(ctx context.Context, domain string) error
	// Shutdown asks the guest to power off (ACPI) and waits until it has
	// or ctx ends; Destroy stops it at once.
	Shutdown(ctx context.Context, domain string) (time.Duration, error)
	Destroy(ctx context.Context, domain string) error

	// Metadata is the domain's metadata element in namespace ns, "" if
	// it has none.
	Metadata(ctx context.Context, domain, ns string) (string, error)
	SetMetadata(ctx context.Context, domain, ns, key, inner string) error

	// Snapshot keeps the named disks (and the definition) as they are;
	// RevertSnapshot puts both back.
	Snapshot(ctx context.Context, domain, name, description string, disks []string) error
	HasSnapshot(ctx context.Context, domain, name string) (bool, error)
	Snapshots(ctx context.Context, domain string) ([]string, error)
	DeleteSnapshot(ctx context.Context, domain, name string) error
	RevertSnapshot(ctx context.Context, domain, name string) error

	// The volumes of the pool; DeleteVolume of a missing one is no error.
	CreateVolume(ctx context.Context, v virt.Volume) (path string, err error)
	DeleteVolume(ctx context.Context, name string) error
	VolumePath(ctx context.Context, name string) (string, error)
	VolumeSize(ctx context.Context, name string) (capacity, allocation uint64, err error)
	Volumes(ctx context.Context) ([]string, error)
	ReadVolume(ctx context.Context, name string, start func() io.Writer, offset, length uint64) error
	UploadExtents(ctx context.Context, name string, f *os.File, extents []virt.Extent, progress func(n int64)) error
	PoolSpace(ctx context.Context) (capacity, available uint64, err error)

	Close() error
}

// virtHost is a libvirt connection and the environment's pool in it.
type virtHost struct {
	*virt.Conn
	pool libvirt.StoragePool
}

var _ Host = virtHost{}

func (h virtHost) CreateVolume(ctx context.Context, v virt.Volume) (string, error) {
	return h.Conn.CreateVolume(ctx, h.pool, v)
}

func (h virtHost) DeleteVolume(ctx context.Context, name string) error {
	return h.Conn.DeleteVolume(ctx, h.pool, name)
}

func (h virtHost) VolumePath(ctx context.Context, name string) (string, error) {
	return h.Conn.VolumePath(ctx, h.pool, name)
}

func (h virtHost) VolumeSize(ctx context.Context, name string) (uint64, uint64, error) {
	return h.Conn.VolumeSize(ctx, h.pool, name)
}

func (h virtHost) Volumes(ctx context.Context) ([]string, error) { return h.Conn.Volumes(ctx, h.pool) }

func (h virtHost) ReadVolume(ctx context.Context, name string, start func() io.Writer, offset, length uint64) error {
	return h.Conn.ReadVolume(ctx, h.pool.Name, name, start, offset, length)
}

func (h virtHost) UploadExtents(ctx context.Context, name string, f *os.File, extents []virt.Extent, progress func(int64)) error {
	return h.Conn.UploadExtents(ctx, h.pool, name, f, extents, progress)
}

func (h virtHost) PoolSpace(ctx context.Context) (uint64, uint64, error) {
	return h.Conn.PoolSpace(ctx, h.pool)
}

// clock is the deployer's time, which decides how old a lock or an
// interrupted swap is; the tests have their own.
type clock interface {
	Now() time.Time
	// After is time.After; Ticker a time.Ticker's channel and its Stop.
	After(time.Duration) <-chan time.Time
	Ticker(time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) Ticker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// processAlive tells whether a process of this machine still runs.
func processAlive(pid int) bool { return syscall.Kill(pid, 0) != syscall.ESRCH }

// revertNoting notes each revert of a snapshot, which puts back the
// record of snapshot time with the lock holder of then: the deployer's
// next write of the record then does not take that for another holder.
type revertNoting struct {
	Host
	reverted *atomic.Bool
}

func (h revertNoting) RevertSnapshot(ctx context.Context, domain, name string) error {
	err := h.Host.RevertSnapshot(ctx, domain, name)
	if err == nil {
		h.reverted.Store(true)
	}
	return err
}
