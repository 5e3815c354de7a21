package deploy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/ostal/ostal/builders"
)

// Image is a built qcow2 about to be deployed.
type Image struct {
	Path   string
	Digest string // sha256 of the file
	Size   int64  // bytes in the file
	// VirtualSize is the disk the guest sees, from the qcow2 header.
	VirtualSize uint64
	// Manifest is the build's record beside the image (name, services,
	// commit); an image without one deploys as "unnamed".
	Manifest *builders.Manifest
}

// VolumeName is the image's volume in the pool: named by content, so a
// volume of that name is that image.
func (i *Image) VolumeName() string { return "sha256-" + i.Digest + ".qcow2" }

// Release is how the image is recorded once deployed as domain's OS.
func (i *Image) Release(domain string) Release {
	r := Release{Digest: i.Digest, Volume: i.VolumeName(), Overlay: overlayName(domain, i.Digest), Name: "unnamed", Size: i.VirtualSize}
	if i.Manifest != nil {
		r.Name, r.Commit, r.Serves = i.Manifest.Name, i.Manifest.Ostal.Commit, i.Manifest.Domain
		r.Services = i.Manifest.Services
	}
	return r
}

// overlayName is the domain's writable layer on one image: the image's
// volume is never written, so it stays what its name says.
func overlayName(domain, digest string) string {
	return domain + "-root-" + Short(digest) + ".qcow2"
}

// OpenImage hashes an image and reads its header and manifest.
func OpenImage(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open image: %w (build one with `make image`, or name the qcow2 to deploy)", err)
	}
	defer f.Close()
	vsize, err := qcow2VirtualSize(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", path, err)
	}
	if n < headerLen {
		return nil, fmt.Errorf("%s is %d bytes, too small to be a bootable qcow2 image; rebuild it with `make image`", path, n)
	}
	img := &Image{Path: path, Digest: hex.EncodeToString(h.Sum(nil)), Size: n, VirtualSize: vsize}
	img.Manifest, err = builders.ReadManifest(path)
	if errors.Is(err, fs.ErrNotExist) {
		img.Manifest, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if img.Manifest != nil && img.Manifest.Image.SHA256 != "" && img.Manifest.Image.SHA256 != img.Digest {
		return nil, fmt.Errorf("%s has sha256 %s but its manifest says %s: the file changed after the build; rebuild it with `make image`",
			path, Short(img.Digest), Short(img.Manifest.Image.SHA256))
	}
	return img, nil
}

// qcow2VirtualSize reads the guest-visible size from a qcow2 header, and
// refuses anything that is not a qcow2.
func qcow2VirtualSize(r io.ReaderAt) (uint64, error) {
	var hdr [32]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return 0, fmt.Errorf("not a qcow2 image: %w", err)
	}
	if string(hdr[:4]) != "QFI\xfb" {
		return 0, fmt.Errorf("not a qcow2 image (it starts %q); ostal deploys the .qcow2 that `ostal build` writes", hdr[:4])
	}
	return binary.BigEndian.Uint64(hdr[24:32]), nil
}
