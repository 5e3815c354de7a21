package builders

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ostal/ostal/images"
)

func tinySpec() *images.Spec {
	s := &images.Spec{Path: "tests/images/tiny.yaml", Name: "tiny", Packages: []string{"linux-image-cloud-amd64"},
		KernelCmdline: []string{"console=ttyS0,115200", "quiet"}}
	images.ApplyDefaults(s)
	return s
}

func TestKernelCmdline(t *testing.T) {
	id := identityFor("tiny")
	assert.Equal(t, "root=PARTUUID="+id.RootPartUUID+" ro console=ttyS0,115200 quiet", kernelCmdline(tinySpec(), id))

	s := tinySpec()
	s.KernelCmdline = nil
	assert.Equal(t, "root=PARTUUID="+id.RootPartUUID+" ro", kernelCmdline(s, id))
}

func TestGrubConfig(t *testing.T) {
	id := identityFor("tiny")
	got := grubConfig(tinySpec(), id, "/boot/vmlinuz-6.12.57+deb13-cloud-amd64", "/boot/initrd.img-6.12.57+deb13-cloud-amd64")
	assert.Equal(t, `# written by ostal: the image is rebuilt, not updated, so this never changes in place
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
set default=0
menuentry "tiny" {
	search --no-floppy --fs-uuid --set=root `+id.RootFSUUID+`
	linux /boot/vmlinuz-6.12.57+deb13-cloud-amd64 root=PARTUUID=`+id.RootPartUUID+` ro console=ttyS0,115200 quiet
	initrd /boot/initrd.img-6.12.57+deb13-cloud-amd64
}
`, got)
}

func TestGrubEarlyConfig(t *testing.T) {
	id := identityFor("tiny")
	assert.Equal(t, "search --no-floppy --fs-uuid --set=root "+id.RootFSUUID+"\nset prefix=($root)/boot/grub\n", grubEarlyConfig(id))
}

func TestGrubImageCommand(t *testing.T) {
	common := []string{"part_gpt", "part_msdos", "ext2", "fat", "search", "search_fs_uuid", "normal",
		"configfile", "linux", "echo", "test", "serial", "terminal", "minicmd", "ls", "cat"}

	bios := grubImageCommand("/c/tools", "i386-pc", "/w/grub-early.cfg", "/w/core.img")
	assert.Equal(t, "grub-mkimage", bios.Name)
	assert.Equal(t, "/c/tools", bios.Tools, "runs from the locked tools tree")
	assert.Equal(t, append([]string{"-O", "i386-pc", "-d", "/c/tools/usr/lib/grub/i386-pc", "-c", "/w/grub-early.cfg",
		"-p", "/boot/grub", "-o", "/w/core.img", "biosdisk"}, common...), bios.Args)

	efi := grubImageCommand("/c/tools", "x86_64-efi", "/w/grub-early.cfg", "/w/BOOTX64.EFI")
	assert.Equal(t, append(append([]string{"-O", "x86_64-efi", "-d", "/c/tools/usr/lib/grub/x86_64-efi", "-c", "/w/grub-early.cfg",
		"-p", "/boot/grub", "-o", "/w/BOOTX64.EFI"}, common...), "efi_gop"), efi.Args)

	assert.Equal(t, common, grubModules, "making one image does not change the module list of the next")
}
