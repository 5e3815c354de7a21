package builders

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/ostal/ostal/images"
)

// stepAssembleDisk writes the partition table into a sparse raw disk,
// copies the ESP and root filesystem images into their partitions, and
// places GRUB's BIOS boot code: the disk boots under SeaBIOS and OVMF.
type stepAssembleDisk struct {
	Driver Driver
}

func (s *stepAssembleDisk) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	w, err := getWork(state)
	if err != nil {
		return halt(state, err)
	}
	spec, work, tools := w.spec, w.dir, w.tools
	esp, err := keyESP.get(state)
	if err != nil {
		return halt(state, err)
	}
	rootfs, err := keyRootfs.get(state)
	if err != nil {
		return halt(state, err)
	}
	size, err := images.DiskSizeBytes(spec.DiskSize)
	if err != nil {
		return halt(state, err)
	}
	id := identityFor(spec.Name)
	disk := filepath.Join(work, "disk.raw")
	if err := createSparse(disk, size); err != nil {
		return halt(state, err)
	}
	sfdisk := Command{Name: "sfdisk", Tools: tools, Args: []string{"-q", "--no-reread", "--no-tell-kernel", "--wipe", "never", disk},
		Stdin: strings.NewReader(sfdiskScript(id, size))}
	if err := s.Driver.Run(ctx, sfdisk); err != nil {
		return halt(state, fmt.Errorf("write the partition table: %w", err))
	}
	if err := copyAt(disk, espStart, esp); err != nil {
		return halt(state, err)
	}
	if err := copyAt(disk, rootStart, rootfs); err != nil {
		return halt(state, err)
	}
	core := filepath.Join(work, "core.img")
	if err := s.Driver.Run(ctx, grubImageCommand(tools, "i386-pc", filepath.Join(work, "grub-early.cfg"), core)); err != nil {
		return halt(state, fmt.Errorf("make GRUB's BIOS image: %w", err))
	}
	if err := installBIOSBoot(disk, filepath.Join(tools, "usr/lib/grub/i386-pc/boot.img"), core); err != nil {
		return halt(state, err)
	}
	keyDisk.put(state, disk)
	return multistep.ActionContinue
}

// Cleanup: disk.raw lives in the work directory.
func (s *stepAssembleDisk) Cleanup(multistep.StateBag) {}

func createSparse(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create disk: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("size disk to %s: %w", humanBytes(size), err)
	}
	return nil
}

// copyAt copies src into dst at offset. Only src's data extents are read
// and written (SEEK_DATA/SEEK_HOLE): an 8 GiB filesystem image with 1 GiB
// of files costs 1 GiB of I/O, and the raw disk stays sparse.
func copyAt(dst string, offset int64, src string) error {
	fail := func(err error) error { return fmt.Errorf("copy %s into the disk: %w", filepath.Base(src), err) }
	in, err := os.Open(src)
	if err != nil {
		return fail(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		return fail(err)
	}
	defer out.Close()
	fi, err := in.Stat()
	if err != nil {
		return fail(err)
	}
	for pos := int64(0); pos < fi.Size(); {
		start, err := in.Seek(pos, seekData)
		if err != nil {
			break // ENXIO: no data after pos
		}
		end, err := in.Seek(start, seekHole)
		if err != nil {
			return fail(err)
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, offset+start), io.NewSectionReader(in, start, end-start)); err != nil {
			return fail(err)
		}
		pos = end
	}
	return out.Close()
}

func installBIOSBoot(disk, bootImgPath, corePath string) error {
	bootImg, err := os.ReadFile(bootImgPath)
	if err != nil {
		return fmt.Errorf("read GRUB boot.img: %w", err)
	}
	coreImg, err := os.ReadFile(corePath)
	if err != nil {
		return fmt.Errorf("read GRUB core.img: %w", err)
	}
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open disk: %w", err)
	}
	defer f.Close()
	mbr := make([]byte, sectorSize)
	if _, err := f.ReadAt(mbr, 0); err != nil {
		return fmt.Errorf("read the disk's first sector: %w", err)
	}
	newMBR, core, err := placeBIOSBoot(mbr, bootImg, coreImg, biosStart/sectorSize, biosBootMiB*mib/sectorSize)
	if err != nil {
		return fmt.Errorf("place GRUB's BIOS boot code: %w", err)
	}
	if _, err := f.WriteAt(core, biosStart); err != nil {
		return fmt.Errorf("write core.img: %w", err)
	}
	if _, err := f.WriteAt(newMBR, 0); err != nil {
		return fmt.Errorf("write boot.img: %w", err)
	}
	return f.Close()
}
