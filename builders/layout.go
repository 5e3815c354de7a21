package builders

import (
	"crypto/sha256"
	"fmt"
)

// The disk layout. Identifiers are derived from the image name, so every
// build of an image has the same ones and the bootloader and fstab can
// name the root by them.
const (
	sectorSize   = 512
	biosBootMiB  = 1  // GRUB's core.img for BIOS firmware
	espMiB       = 64 // the EFI system partition: GRUB for UEFI firmware
	firstUsable  = 1  // MiB: partitions start aligned at 1 MiB
	rootPartName = "root"
)

// The data volume: attached at boot with this virtio serial, it holds all
// state; its filesystem is made on first boot by ostal-data-volume.service
// (provision/system), which formats only a volume that is blank and links
// it at DataVolumeLink for the mount.
const (
	DataVolumeSerial = "ostal-data"
	DataVolumeLink   = "/run/ostal/data-volume"
	DataMount        = "/srv/data"
)

// GPT partition type GUIDs.
const (
	typeBIOSBoot = "21686148-6449-6E6F-744E-656564454649"
	typeESP      = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	typeLinuxX86 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" // root partition (x86-64), discoverable
)

// Identity holds the fixed identifiers of one image.
type Identity struct {
	DiskGUID, BIOSPartUUID, ESPPartUUID, RootPartUUID, RootFSUUID string
	ESPVolumeID                                                   string // FAT serial, 8 hex digits
}

func identityFor(name string) Identity {
	return Identity{
		DiskGUID:     nameUUID(name, "disk"),
		BIOSPartUUID: nameUUID(name, "bios-boot"),
		ESPPartUUID:  nameUUID(name, "esp"),
		RootPartUUID: nameUUID(name, "root-partition"),
		RootFSUUID:   nameUUID(name, "root-filesystem"),
		ESPVolumeID:  fmt.Sprintf("%X", sha256.Sum256([]byte(name+"/esp-volume")))[:8],
	}
}

// nameUUID is a version-5-shaped UUID from a name (RFC 9562 layout bits set
// so that tools accept it).
func nameUUID(name, purpose string) string {
	h := sha256.Sum256([]byte("ostal/" + name + "/" + purpose))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Partition offsets and sizes, in bytes.
const (
	mib          = int64(1) << 20
	biosStart    = firstUsable * mib
	espStart     = biosStart + biosBootMiB*mib
	rootStart    = espStart + espMiB*mib
	gptTailBytes = mib // room for the backup GPT at the end of the disk
)

func rootfsBytes(disk int64) int64 { return disk - rootStart - gptTailBytes }
