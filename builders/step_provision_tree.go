package builders

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/ostal/ostal/images"
)

// stepProvisionTree copies the cached root tree into this build's work
// directory and adds what the spec asks for: files from provision/, host
// name, fstab, the bootloader's configuration, and enabled units.
type stepProvisionTree struct {
	OutputDir    string
	ProvisionDir string
	Driver       Driver

	workDir string
}

func (s *stepProvisionTree) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	spec, err := keySpec.get(state)
	if err != nil {
		return halt(state, err)
	}
	base, err := keyBaseTree.get(state)
	if err != nil {
		return halt(state, err)
	}
	works := filepath.Join(s.OutputDir, ".work")
	if err := os.MkdirAll(works, 0o755); err != nil {
		return halt(state, fmt.Errorf("create work directory: %w", err))
	}
	if err := removeStale(works); err != nil {
		return halt(state, err)
	}
	s.workDir = tempName(filepath.Join(works, spec.Name))
	keyWorkDir.put(state, s.workDir)
	root := filepath.Join(s.workDir, "root")
	if err := os.MkdirAll(s.workDir, 0o755); err != nil {
		return halt(state, fmt.Errorf("create work directory: %w", err))
	}
	if err := s.Driver.Run(ctx, Command{Name: "cp", Args: []string{"-a", "--reflink=auto", base, root}}); err != nil {
		return halt(state, fmt.Errorf("copy the root tree: %w", err))
	}
	for i, f := range spec.Files {
		if err := installFile(filepath.Join(s.ProvisionDir, f.Source), filepath.Join(root, f.Dest), f.Mode); err != nil {
			return halt(state, fmt.Errorf("%s: files[%d]: %w", spec.Path, i, err))
		}
	}
	if err := writeSystemFiles(root, spec); err != nil {
		return halt(state, err)
	}
	for i, u := range spec.Units {
		if !unitExists(root, u) {
			return halt(state, &images.FieldError{File: spec.Path, Field: fmt.Sprintf("units[%d]", i),
				Problem: fmt.Sprintf("%q is not a unit of any installed package nor of files:", u),
				Hint:    "add the package that ships it, or the unit file under files:"})
		}
	}
	args := append([]string{root, "systemctl", "enable"}, spec.Units...)
	if len(spec.Units) > 0 {
		if err := s.Driver.Run(ctx, Command{Name: "chroot", Args: args}); err != nil {
			return halt(state, fmt.Errorf("enable units: %w", err))
		}
	}
	if len(spec.MaskedUnits) > 0 {
		args := append([]string{root, "systemctl", "mask"}, spec.MaskedUnits...)
		if err := s.Driver.Run(ctx, Command{Name: "chroot", Args: args}); err != nil {
			return halt(state, fmt.Errorf("mask units: %w", err))
		}
	}
	if err := s.Driver.Run(ctx, Command{Name: "chroot", Args: []string{root, "systemctl", "set-default", "multi-user.target"}}); err != nil {
		return halt(state, fmt.Errorf("set default target: %w", err))
	}
	say(state, "%d files, %d units enabled, %d masked", len(spec.Files), len(spec.Units), len(spec.MaskedUnits))
	return multistep.ActionContinue
}

// Cleanup removes the work directory: the qcow2 and manifest are the
// build's only outputs.
func (s *stepProvisionTree) Cleanup(multistep.StateBag) {
	if s.workDir != "" {
		os.RemoveAll(s.workDir)
	}
}

func unitExists(root, unit string) bool {
	for _, dir := range []string{"etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"} {
		if exists(filepath.Join(root, dir, unit)) {
			return true
		}
	}
	return false
}

// installFile copies a file, or a directory's files, into the tree.
func installFile(src, dst, mode string) error {
	perm, err := strconv.ParseUint(mode, 8, 32)
	if err != nil {
		return fmt.Errorf("mode %q: %w", mode, err)
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return copyFile(src, dst, fs.FileMode(perm))
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		// Inside a directory, executables stay executable.
		m := fs.FileMode(0o644)
		if fi.Mode()&0o111 != 0 {
			m = 0o755
		}
		return copyFile(p, filepath.Join(dst, rel), m)
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	os.Remove(dst) // a symlink from a package must not redirect the write
	if err := os.WriteFile(dst, b, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// writeSystemFiles writes what every image needs and ostal derives from the
// spec.
func writeSystemFiles(root string, spec *images.Spec) error {
	id := identityFor(spec.Name)
	kernel, initrd, err := findKernel(root)
	if err != nil {
		return fmt.Errorf("%s: packages: %w", spec.Path, err)
	}
	files := map[string]string{
		"etc/hostname":         spec.Hostname + "\n",
		"etc/hosts":            fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", spec.Hostname),
		"etc/fstab":            fstab(id),
		"etc/apt/sources.list": fmt.Sprintf("deb %s %s %s\n", spec.Mirror, spec.Suite, strings.Join(spec.Components, " ")),
		"boot/grub/grub.cfg":   grubConfig(spec, id, kernel, initrd),
		"etc/kernel/cmdline":   kernelCmdline(spec, id) + "\n",
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(root, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write /%s: %w", n, err)
		}
		os.Remove(p)
		if err := os.WriteFile(p, []byte(files[n]), 0o644); err != nil {
			return fmt.Errorf("write /%s: %w", n, err)
		}
	}
	return nil
}

// findKernel returns the paths, inside the tree, of the one kernel and its
// initrd.
func findKernel(root string) (kernel, initrd string, err error) {
	kernels, _ := filepath.Glob(filepath.Join(root, "boot/vmlinuz-*"))
	if len(kernels) != 1 {
		return "", "", fmt.Errorf("found %d kernels in /boot, need exactly one: list one kernel package such as linux-image-amd64", len(kernels))
	}
	version := strings.TrimPrefix(filepath.Base(kernels[0]), "vmlinuz-")
	initrd = "/boot/initrd.img-" + version
	if !exists(filepath.Join(root, initrd)) {
		return "", "", fmt.Errorf("kernel %s has no initrd: add initramfs-tools to the packages", version)
	}
	return "/boot/vmlinuz-" + version, initrd, nil
}

func kernelCmdline(spec *images.Spec, id Identity) string {
	return strings.Join(append([]string{"root=PARTUUID=" + id.RootPartUUID, "ro"}, spec.KernelCmdline...), " ")
}

// grubConfig is the one boot menu entry: the image has one kernel, and a
// rebuild, not a menu, changes it.
func grubConfig(spec *images.Spec, id Identity, kernel, initrd string) string {
	return fmt.Sprintf(`# written by ostal: the image is rebuilt, not updated, so this never changes in place
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
set default=0
menuentry %q {
	search --no-floppy --fs-uuid --set=root %s
	linux %s %s
	initrd %s
}
`, spec.Name, id.RootFSUUID, kernel, kernelCmdline(spec, id), initrd)
}

// fstab mounts the root by partition UUID and the data volume by its
// serial; a missing data volume does not stop the boot (nofail), so SSH
// stays reachable to repair it.
func fstab(id Identity) string {
	return fmt.Sprintf("# written by ostal\n"+
		"PARTUUID=%s\t/\text4\tdefaults,errors=remount-ro\t0\t1\n"+
		"/dev/disk/by-id/virtio-%s\t%s\text4\tdefaults,nofail,x-systemd.makefs,x-systemd.device-timeout=90s\t0\t2\n",
		id.RootPartUUID, DataVolumeSerial, DataMount)
}
