package builders

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ostal/ostal/images"
)

// vmDiskModules are the drivers the initrd carries: those of every disk a
// virtual machine's root may sit on (virtio-blk, which ostal's domains
// use, virtio-scsi, SATA, IDE and NVMe) and the root's filesystem. The
// kernel has the rest; udev loads them from the root once it is mounted.
var vmDiskModules = []string{"virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod", "ahci", "ata_piix", "nvme", "ext4", "crc32c_generic", "crc32c_intel"}

// initramfsPreseed are files put into the tree before any package is
// installed, so that the kernel's package builds its initrd with them.
// initramfs-tools' default (MODULES=most) copies every storage, filesystem
// and input driver of the kernel: a 37 MiB initrd for linux-image-amd64,
// which GRUB reads through the firmware and the kernel unpacks at every
// boot, seconds under emulation. A list of what a VM's root needs makes
// it 9 MiB (8 MiB for the cloud kernel, from 18).
func initramfsPreseed() map[string]string {
	hook := "#!/bin/sh\n" +
		"# Written by ostal (builders/initramfs.go): the drivers of the disks a\n" +
		"# virtual machine's root may be on, with MODULES=list in conf.d/ostal.conf.\n" +
		"set -e\n" +
		"# After udev's hook, whose hardware database this removes.\n" +
		"case \"$1\" in prereqs) echo \"udev\"; exit 0 ;; esac\n" +
		". /usr/share/initramfs-tools/hook-functions\n"
	for _, m := range vmDiskModules {
		hook += "manual_add_modules " + m + "\n"
	}
	// udev's hardware database (13 MiB) names keyboards and USB devices;
	// finding the root by its partition's UUID needs none of it, and the
	// root's own udev has it.
	hook += "rm -f \"${DESTDIR}/usr/lib/udev/hwdb.bin\" \"${DESTDIR}/etc/udev/hwdb.bin\"\n"
	return map[string]string{
		"etc/initramfs-tools/conf.d/ostal.conf": "# Written by ostal (builders/initramfs.go): the initrd carries the drivers\n" +
			"# that hooks/ostal-vm-disks lists, not every driver of the kernel.\nMODULES=list\n",
		"etc/initramfs-tools/hooks/ostal-vm-disks": hook,
	}
}

// writePreseed writes the preseed files under dir, hooks executable.
func writePreseed(dir string) error {
	for name, text := range initramfsPreseed() {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("preseed /%s: %w", name, err)
		}
		mode := os.FileMode(0o644)
		if filepath.Base(filepath.Dir(name)) == "hooks" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			return fmt.Errorf("preseed /%s: %w", name, err)
		}
	}
	return nil
}

// imageTreeKey names the cached image tree: the locked packages and how
// they were installed, so that a tree made with other preseed files is
// never taken for this one. The lock's epoch is part of how: maintainer
// scripts date what they write by SOURCE_DATE_EPOCH (root's entry in
// /etc/shadow, the initrd's cpio), and the lock's date moves whenever an
// archive publishes, even when its packages stay the same.
func imageTreeKey(lock *images.Lock) string {
	h := sha256.New()
	fmt.Fprintf(h, "packages %s\nepoch %d\n", lock.Digest(images.SetImage), lock.SourceDateEpoch())
	files := initramfsPreseed()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "preseed %s %d\n%s", n, len(files[n]), files[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}
