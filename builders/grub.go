package builders

import (
	"fmt"
	"path/filepath"
	"strings"
)

// grubModules are built into both GRUB images: enough to find the root
// filesystem by UUID on a GPT disk, talk on the serial console and boot
// Linux.
var grubModules = []string{"part_gpt", "part_msdos", "ext2", "fat", "search", "search_fs_uuid", "normal",
	"configfile", "linux", "echo", "test", "serial", "terminal", "minicmd", "ls", "cat"}

// grubEarlyConfig is embedded in the GRUB images: it finds the root
// filesystem, whose /boot/grub/grub.cfg does the rest.
func grubEarlyConfig(id Identity) string {
	return fmt.Sprintf("search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)/boot/grub\n", id.RootFSUUID)
}

// grubImageCommand makes GRUB's image for one platform: "i386-pc" (core.img
// for BIOS) or "x86_64-efi" (BOOTX64.EFI for UEFI).
func grubImageCommand(tools, platform, earlyConfig, out string) Command {
	mods := append([]string(nil), grubModules...)
	switch platform {
	case "i386-pc":
		mods = append([]string{"biosdisk"}, mods...)
	case "x86_64-efi":
		mods = append(mods, "efi_gop")
	}
	args := []string{"-O", platform, "-d", filepath.Join(tools, "usr/lib/grub", platform), "-c", earlyConfig,
		"-p", "/boot/grub", "-o", out}
	return Command{Name: "grub-mkimage", Tools: tools, Args: append(args, mods...)}
}

// sfdiskScript is the partition table: fixed GUIDs, 1 MiB alignment, the
// root partition filling the disk but for the backup GPT's room.
func sfdiskScript(id Identity, diskBytes int64) string {
	sec := func(b int64) int64 { return b / sectorSize }
	rootSize := rootfsBytes(diskBytes)
	lines := []string{
		"label: gpt",
		"label-id: " + id.DiskGUID,
		"unit: sectors",
		"sector-size: 512",
		fmt.Sprintf("first-lba: %d", sec(biosStart)),
		fmt.Sprintf("start=%d, size=%d, type=%s, uuid=%s, name=\"bios\"", sec(biosStart), sec(biosBootMiB*mib), typeBIOSBoot, id.BIOSPartUUID),
		fmt.Sprintf("start=%d, size=%d, type=%s, uuid=%s, name=\"esp\"", sec(espStart), sec(espMiB*mib), typeESP, id.ESPPartUUID),
		fmt.Sprintf("start=%d, size=%d, type=%s, uuid=%s, name=%q", sec(rootStart), sec(rootSize), typeLinuxX86, id.RootPartUUID, rootPartName),
	}
	return strings.Join(lines, "\n") + "\n"
}
