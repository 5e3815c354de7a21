package virt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/digitalocean/go-libvirt"
	"golang.org/x/sys/unix"
)

// Extent is a range of a file that holds data; what lies between extents
// is a hole, read as zeros and never sent.
type Extent struct{ Offset, Length int64 }

// DataExtents lists the data of f with SEEK_DATA/SEEK_HOLE, merging
// extents less than gap apart: each extent costs a round trip, a small
// hole costs only its zeros.
func DataExtents(f *os.File, gap int64) ([]Extent, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	var out []Extent
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole remains
		}
		if err != nil {
			// A filesystem without SEEK_DATA: all of it is data.
			return []Extent{{0, size}}, nil
		}
		hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			return nil, fmt.Errorf("find holes in %s: %w", f.Name(), err)
		}
		if n := len(out); n > 0 && data-(out[n-1].Offset+out[n-1].Length) < gap {
			out[n-1].Length = hole - out[n-1].Offset
		} else {
			out = append(out, Extent{data, hole - data})
		}
		off = hole
	}
	return out, nil
}

// UploadExtents writes the extents of f into the volume at the same
// offsets, one stream each; the volume must already have f's size and be
// zero elsewhere (a fresh raw volume). progress is told of every block.
func (c *Conn) UploadExtents(ctx context.Context, pool libvirt.StoragePool, name string, f *os.File, extents []Extent, progress func(n int64)) error {
	var vol libvirt.StorageVol
	err := c.call(ctx, fmt.Sprintf("look up volume %q in pool %q", name, pool.Name), func() (err error) {
		vol, err = c.l.StorageVolLookupByName(pool, name)
		return err
	})
	if err != nil {
		return err
	}
	// An upload may take long on a slow link; one that stops moving is
	// cut after stallAfter.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	moved := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-moved:
			case <-time.After(stallAfter):
				cancel()
				return
			}
		}
	}()
	seen := func(n int64) {
		select {
		case moved <- struct{}{}:
		default:
		}
		if progress != nil {
			progress(n)
		}
	}
	for _, e := range extents {
		r := &countingReader{r: io.NewSectionReader(f, e.Offset, e.Length), progress: seen}
		err := c.callWithin(ctx, 0, fmt.Sprintf("upload %d bytes at offset %d into volume %q", e.Length, e.Offset, name), func() error {
			return c.l.StorageVolUpload(vol, r, uint64(e.Offset), uint64(e.Length), 0)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// stallAfter is how long a transfer may go without a byte moving.
const stallAfter = 2 * time.Minute

// ReadVolume streams length bytes of a volume, from offset, into the
// writer that start gives.
//
// go-libvirt mishandles a download whose first data packet arrives
// before the reply to the call (seen about once in 30 reads over SSH):
// the data goes astray, and the connection deadlocks on the stream's
// closing packet. So each read has a connection of its own and trusts
// the byte count: once every byte has arrived, a call that has not
// returned is abandoned with its connection; a read that stalls or comes
// up short starts again, with a fresh writer, up to three times.
func (c *Conn) ReadVolume(ctx context.Context, pool, name string, start func() io.Writer, offset, length uint64) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = c.readOnce(ctx, pool, name, start(), offset, length); err == nil || ctx.Err() != nil || IsNotFound(err) {
			return err
		}
	}
	return err
}

func (c *Conn) readOnce(ctx context.Context, pool, name string, w io.Writer, offset, length uint64) error {
	op := fmt.Sprintf("read volume %q of pool %q", name, pool)
	rc, err := DialWith(ctx, c.URI, c.wrap)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var vol libvirt.StorageVol
	err = rc.call(ctx, op, func() error {
		p, err := rc.l.StoragePoolLookupByName(pool)
		if err != nil {
			return err
		}
		vol, err = rc.l.StorageVolLookupByName(p, name)
		return err
	})
	if err != nil {
		rc.Close()
		return err
	}
	cw := &countingWriter{w: w, want: length, all: make(chan struct{}), moved: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- rc.l.StorageVolDownload(vol, cw, offset, length, 0) }()
	abandon := func() { go rc.l.Disconnect() } // it may wait on the stuck router
	for {
		select {
		case err := <-done:
			rc.Close()
			if err == nil && cw.got != length {
				err = fmt.Errorf("%d bytes arrived, not %d", cw.got, length)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			return nil
		case <-cw.all:
			abandon()
			return nil
		case <-cw.moved:
		case <-time.After(readStall):
			abandon()
			return fmt.Errorf("%s: no byte for %s after %d of %d", op, readStall, cw.got, length)
		case <-ctx.Done():
			abandon()
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
	}
}

// readStall is how long a read may go without a byte: libvirtd reads
// from its own disks, so longer means the stream is lost.
const readStall = 20 * time.Second

type countingWriter struct {
	w          io.Writer
	got, want  uint64
	all, moved chan struct{}
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.got += uint64(n)
	select {
	case c.moved <- struct{}{}:
	default:
	}
	if c.got == c.want && err == nil {
		close(c.all)
	}
	return n, err
}

// PoolSpace is a pool's capacity and what is free in it, in bytes.
func (c *Conn) PoolSpace(ctx context.Context, pool libvirt.StoragePool) (capacity, available uint64, err error) {
	err = c.call(ctx, fmt.Sprintf("read the free space of pool %q", pool.Name), func() error {
		if err := c.l.StoragePoolRefresh(pool, 0); err != nil {
			return err
		}
		_, capacity, _, available, err = c.l.StoragePoolGetInfo(pool)
		return err
	})
	return capacity, available, err
}

// VolumeSize is a volume's capacity (what the guest sees) and allocation
// (what it takes on the host), in bytes.
func (c *Conn) VolumeSize(ctx context.Context, pool libvirt.StoragePool, name string) (capacity, allocation uint64, err error) {
	err = c.call(ctx, fmt.Sprintf("read the size of volume %q", name), func() error {
		vol, err := c.l.StorageVolLookupByName(pool, name)
		if err != nil {
			return err
		}
		_, capacity, allocation, err = c.l.StorageVolGetInfo(vol)
		return err
	})
	return capacity, allocation, err
}

// LookupPool returns an existing pool, started.
func (c *Conn) LookupPool(ctx context.Context, name string) (libvirt.StoragePool, error) {
	var pool libvirt.StoragePool
	err := c.call(ctx, fmt.Sprintf("look up pool %q", name), func() (err error) {
		if pool, err = c.l.StoragePoolLookupByName(name); err != nil {
			return err
		}
		return c.l.StoragePoolRefresh(pool, 0)
	})
	return pool, err
}

type countingReader struct {
	r        io.Reader
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && c.progress != nil {
		c.progress(int64(n))
	}
	return n, err
}
