package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/ostal/ostal/internal/virt"
)

// PushResult says what a push did.
type PushResult struct {
	Volume  string  `json:"volume"`
	Digest  string  `json:"digest"`
	Already bool    `json:"already_there"`
	Sent    int64   `json:"bytes_sent"`
	Seconds float64 `json:"seconds"`
}

const (
	// extentGap: holes smaller than this are sent as zeros rather than
	// cost another stream.
	extentGap = 4 << 20
	// headerLen is the start of the image, sent last: until it is there
	// the volume is no qcow2, so a half upload never looks complete.
	headerLen = 64 << 10
)

// Push puts the image into the pool under its content name. It sends
// only the file's data, header last, and reads everything back to check
// it before sending the header. A volume of that name whose header reads
// back as the file's (all headerLen bytes, not just the qcow2 magic: a
// push cut during the header's upload leaves the magic without the rest)
// is therefore complete; any other is an interrupted push, which the next
// push starts over.
func (d *Deployer) Push(ctx context.Context, img *Image) (*PushResult, error) {
	start := time.Now()
	res := &PushResult{Volume: img.VolumeName(), Digest: img.Digest}
	f, err := os.Open(img.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	header, err := headerSum(f)
	if err != nil {
		return nil, fmt.Errorf("read the header of %s: %w", img.Path, err)
	}
	complete, exists, err := d.complete(ctx, res.Volume, header)
	if err != nil {
		return nil, err
	}
	if complete {
		res.Already, res.Seconds = true, time.Since(start).Seconds()
		d.say("image %s is already in pool %s: nothing to send", Short(img.Digest), d.Env.Pool)
		return res, nil
	}
	if exists {
		d.say("an earlier push of %s was interrupted: sending it again", Short(img.Digest))
		if err := d.host.DeleteVolume(ctx, res.Volume); err != nil {
			return nil, err
		}
	}
	if err := d.checkSpace(ctx, uint64(img.Size)); err != nil {
		return nil, err
	}
	extents, err := virt.DataExtents(f, extentGap)
	if err != nil {
		return nil, err
	}
	body := withoutHeader(extents)
	if _, err := d.host.CreateVolume(ctx, virt.Volume{Name: res.Volume,
		Capacity: virt.Capacity{Unit: "B", Value: uint64(img.Size)}, Allocation: &virt.Capacity{Unit: "B"},
		Target: virt.VolumeTarget{Format: virt.Format{Type: "raw"}}}); err != nil {
		return nil, err
	}
	p := newProgress(d.opts.Out, "upload", dataBytes(body)+headerLen)
	err = d.host.UploadExtents(ctx, res.Volume, f, body, p.add)
	if err == nil {
		err = d.verify(ctx, res.Volume, f, img)
	}
	if err == nil {
		err = d.host.UploadExtents(ctx, res.Volume, f, []virt.Extent{{Offset: 0, Length: headerLen}}, p.add)
	}
	p.finish()
	if err != nil {
		return nil, fmt.Errorf("push %s to %s: %w; the volume is incomplete (no whole qcow2 header) and nothing uses it: run the push again to start over",
			img.Path, d.Env.URI, err)
	}
	if ok, _, err := d.complete(ctx, res.Volume, header); err != nil || !ok {
		if err == nil {
			err = errors.New("it reads back different from the file's")
		}
		return nil, fmt.Errorf("push %s: the header did not arrive whole (%v); run the push again to start over", img.Path, err)
	}
	res.Sent = dataBytes(body) + headerLen
	res.Seconds = time.Since(start).Seconds()
	d.say("pushed %s as %s: %.1f MiB sent and checked in %.1f s", img.Path, res.Volume, float64(res.Sent)/(1<<20), res.Seconds)
	return res, nil
}

// complete tells a finished image volume from an interrupted one: its
// first headerLen bytes, read back, hash to header, the file's. The
// header is sent only once the rest has been read back and checked, so a
// whole header means a whole image; the magic alone means nothing, as a
// cut upload may have written it and not the rest.
func (d *Deployer) complete(ctx context.Context, volume string, header []byte) (complete, exists bool, err error) {
	if _, err := d.host.VolumePath(ctx, volume); err != nil {
		return false, false, ignoreNotFound(err)
	}
	var got hash.Hash
	err = d.host.ReadVolume(ctx, volume, func() io.Writer {
		// Each attempt hashes on its own: an abandoned one may still write.
		got = sha256.New()
		return got
	}, 0, headerLen)
	if err != nil {
		return false, true, fmt.Errorf("read back the header of volume %s: %w", volume, err)
	}
	return bytes.Equal(got.Sum(nil), header), true, nil
}

// headerSum is the sha256 of the file's first headerLen bytes.
func headerSum(f *os.File) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, headerLen)); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// verify reads the volume back (its header still zero) and compares it
// with the file.
func (d *Deployer) verify(ctx context.Context, volume string, f *os.File, img *Image) error {
	want := sha256.New()
	want.Write(make([]byte, headerLen))
	if _, err := io.Copy(want, io.NewSectionReader(f, headerLen, img.Size-headerLen)); err != nil {
		return fmt.Errorf("read %s: %w", img.Path, err)
	}
	var got hash.Hash
	p := newProgress(d.opts.Out, "check ", img.Size)
	err := d.host.ReadVolume(ctx, volume, func() io.Writer {
		// Each attempt hashes on its own: an abandoned one may still write.
		h := sha256.New()
		got = h
		p.reset()
		return writerFunc(func(b []byte) (int, error) {
			p.add(int64(len(b)))
			return h.Write(b)
		})
	}, 0, uint64(img.Size))
	p.finish()
	if err != nil {
		return fmt.Errorf("read back %s to check it: %w", volume, err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		return fmt.Errorf("the uploaded image reads back as sha256 %s, not as sent: it was damaged on the way", Short(hex.EncodeToString(got.Sum(nil))))
	}
	return nil
}

// withoutHeader is the extents minus the header, which is sent last.
func withoutHeader(extents []virt.Extent) []virt.Extent {
	var out []virt.Extent
	for _, e := range extents {
		if end := e.Offset + e.Length; e.Offset < headerLen {
			if end <= headerLen {
				continue
			}
			e = virt.Extent{Offset: headerLen, Length: end - headerLen}
		}
		out = append(out, e)
	}
	return out
}

func dataBytes(extents []virt.Extent) int64 {
	var n int64
	for _, e := range extents {
		n += e.Length
	}
	return n
}

// checkSpace refuses a push the pool cannot hold.
func (d *Deployer) checkSpace(ctx context.Context, size uint64) error {
	_, avail, err := d.host.PoolSpace(ctx)
	if err != nil {
		return err
	}
	need := size + 64<<20 // and room for the overlay's first writes
	if avail < need {
		return fmt.Errorf("pool %q on %s has %d MiB free, and this image needs %d MiB; nothing was sent. "+
			"Free space with `ostal deploy gc %s --keep 2`, or grow the pool", d.Env.Pool, d.Env.URI, avail>>20, need>>20, d.Env.Name)
	}
	return nil
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(b []byte) (int, error) { return w(b) }

// ignoreNotFound is nil for a missing volume, the error otherwise.
func ignoreNotFound(err error) error {
	if virt.IsNotFound(err) {
		return nil
	}
	return err
}
