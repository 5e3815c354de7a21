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
	"syscall"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/ostal/ostal/images"
	"github.com/ostal/ostal/provision"
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
	if err := s.Driver.Run(ctx, Command{Name: "cp", Args: treeCopyArgs(base, root, sameDevice(base, works))}); err != nil {
		return halt(state, fmt.Errorf("copy the root tree: %w", err))
	}
	for i, f := range spec.Files {
		if err := installFile(filepath.Join(s.ProvisionDir, f.Source), filepath.Join(root, f.Dest), f.Mode); err != nil {
			return halt(state, fmt.Errorf("%s: files[%d]: %w", spec.Path, i, err))
		}
	}
	installed, err := provision.Install(s.ProvisionDir, root, SiteOf(spec), provision.Selected(spec.Services))
	if err != nil {
		return halt(state, err)
	}
	if err := writeSystemFiles(root, spec); err != nil {
		return halt(state, err)
	}
	if err := s.makeUsers(ctx, state, root); err != nil {
		return halt(state, err)
	}
	units, masked := spec.AllUnits(), spec.AllMasked()
	for i, u := range units {
		if unitExists(root, u) {
			continue
		}
		if i >= len(spec.Units) { // a service's unit: ostal's own bug
			return halt(state, fmt.Errorf("a service in %s enables %s, which no package or provision/ folder ships: "+
				"fix provision/services.go or the service's rootfs", spec.Path, u))
		}
		return halt(state, &images.FieldError{File: spec.Path, Field: fmt.Sprintf("units[%d]", i),
			Problem: fmt.Sprintf("%q is not a unit of any installed package nor of files:", u),
			Hint:    "add the package that ships it, or the unit file under files:"})
	}
	args := append([]string{root, "systemctl", "enable"}, units...)
	if len(units) > 0 {
		if err := s.Driver.Run(ctx, Command{Name: "chroot", Args: args}); err != nil {
			return halt(state, fmt.Errorf("enable units: %w", err))
		}
	}
	if len(masked) > 0 {
		args := append([]string{root, "systemctl", "mask"}, masked...)
		if err := s.Driver.Run(ctx, Command{Name: "chroot", Args: args}); err != nil {
			return halt(state, fmt.Errorf("mask units: %w", err))
		}
	}
	if err := maskGenerators(root, spec.AllMaskedGenerators()); err != nil {
		return halt(state, err)
	}
	if err := s.Driver.Run(ctx, Command{Name: "chroot", Args: []string{root, "systemctl", "set-default", "multi-user.target"}}); err != nil {
		return halt(state, fmt.Errorf("set default target: %w", err))
	}
	say(state, "%d files, %d service files (%s), %d units enabled, %d masked",
		len(spec.Files), installed, strings.Join(spec.Services, " "), len(units), len(masked))
	return multistep.ActionContinue
}

// makeUsers makes the system users and groups of the services'
// sysusers.d files (provision/*/rootfs/usr/lib/sysusers.d/ostal-*.conf)
// in the image, so that every file and unit finds them from the first
// boot and they have the same ids in every build of the same tree.
func (s *stepProvisionTree) makeUsers(ctx context.Context, state multistep.StateBag, root string) error {
	confs, err := filepath.Glob(filepath.Join(root, "usr/lib/sysusers.d/ostal-*.conf"))
	if err != nil || len(confs) == 0 {
		return err
	}
	lock, err := keyLock.get(state)
	if err != nil {
		return err
	}
	args := []string{root, "systemd-sysusers"}
	for _, c := range confs {
		args = append(args, "/usr/lib/sysusers.d/"+filepath.Base(c))
	}
	// sysusers dates the shadow entries it writes by SOURCE_DATE_EPOCH.
	cmd := Command{Name: "chroot", Args: args, Env: []string{fmt.Sprintf("SOURCE_DATE_EPOCH=%d", lock.SourceDateEpoch())}}
	if err := s.Driver.Run(ctx, cmd); err != nil {
		return fmt.Errorf("make the services' users (systemd-sysusers %s): %w", strings.Join(args[2:], " "), err)
	}
	return nil
}

// Cleanup removes the work directory: the qcow2 and manifest are the
// build's only outputs.
func (s *stepProvisionTree) Cleanup(multistep.StateBag) {
	if s.workDir != "" {
		os.RemoveAll(s.workDir)
	}
}

// SiteOf is what a spec says of the site its services serve.
func SiteOf(spec *images.Spec) provision.Site {
	site := provision.NewSite(spec.Domain, spec.Hostname, spec.Services)
	site.Address, site.Address6, site.AdminKeys = spec.DNS.Address, spec.DNS.Address6, spec.AdminKeys
	site.Postmaster = spec.Mail.Postmaster
	site.Nameservers = spec.DNS.Nameservers
	if len(site.Nameservers) == 0 && spec.Domain != "" {
		site.Nameservers = []string{site.Names["ns"]}
	}
	for _, r := range spec.DNS.Records {
		site.Records = append(site.Records, provision.Record{Name: r.Name, Type: r.Type, Value: r.Value, TTL: r.TTL})
	}
	return site
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

// treeCopyArgs are cp's arguments to make the work tree from the cached
// one. On the same filesystem the work tree's files are hard links to the
// cache's (a 1.5 GiB copy took 14 to 20 s of every rebuild): every step
// after this one replaces a file (remove, then write) and never writes
// into one, so the cache's contents stay as installed; only their times
// change, to the lock's, the same at every build.
func treeCopyArgs(base, root string, sameFS bool) []string {
	if sameFS {
		return []string{"-a", "--link", base, root}
	}
	return []string{"-a", "--reflink=auto", base, root}
}

func sameDevice(a, b string) bool {
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return false
	}
	sa, okA := ia.Sys().(*syscall.Stat_t)
	sb, okB := ib.Sys().(*syscall.Stat_t)
	return okA && okB && sa.Dev == sb.Dev
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

const updatedNote = "# Written by ostal when it built the image: the image's caches are as its\n" +
	"# packages made them. See ConditionNeedsUpdate= in systemd.unit(5).\n"

// sourcesList names the archives the image's packages were locked from, so
// that `apt list --upgradable` on the machine reads the same ones.
func sourcesList(spec *images.Spec) string {
	var b strings.Builder
	for _, src := range spec.Sources() {
		fmt.Fprintf(&b, "deb %s %s %s\n", src.Mirror, src.Suite, strings.Join(spec.Components, " "))
	}
	return b.String()
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
		"etc/apt/sources.list": sourcesList(spec),
		"boot/grub/grub.cfg":   grubConfig(spec, id, kernel, initrd),
		"etc/kernel/cmdline":   kernelCmdline(spec, id) + "\n",
		// The caches that ldconfig.service, systemd-hwdb-update and the
		// journal's catalog update would rebuild at the first boot of
		// every image (ConditionNeedsUpdate: /usr newer than these
		// files) were built with the packages; the scrub stamps these
		// files and /usr alike, so no boot runs them again.
		"etc/.updated": updatedNote,
		"var/.updated": updatedNote,
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
// rebuild, not a menu, changes it. No menu wait (timeout=0, as Debian's
// cloud images): there is no other entry to pick, a second of every boot
// is worth more, and a machine is repaired by rolling back its image
// (ostal deploy rollback), not by editing its kernel's command line.
func grubConfig(spec *images.Spec, id Identity, kernel, initrd string) string {
	return fmt.Sprintf(`# written by ostal: the image is rebuilt, not updated, so this never changes in place
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
set default=0
menuentry %q {
	search --no-floppy --fs-uuid --set=root %s
	linux %s %s
	initrd %s
}
`, spec.Name, id.RootFSUUID, kernel, kernelCmdline(spec, id), initrd)
}

// maskGenerators keeps systemd from running the generators named: each is
// linked to /dev/null in /etc/systemd/system-generators, which overrides
// the package's in /usr/lib (systemd.generator(7)).
func maskGenerators(root string, names []string) error {
	dir := filepath.Join(root, "etc/systemd/system-generators")
	for _, n := range names {
		if n == "" || strings.ContainsRune(n, '/') {
			return fmt.Errorf("mask generator %q: not a generator's file name (provision/services.go)", n)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("mask generator %s: %w", n, err)
		}
		p := filepath.Join(dir, n)
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("mask generator %s: %w", n, err)
		}
		if err := os.Symlink("/dev/null", p); err != nil {
			return fmt.Errorf("mask generator %s: %w", n, err)
		}
	}
	return nil
}

// fstab mounts the root by partition UUID and the data volume from the
// link ostal-data-volume.service (provision/system) makes to the disk
// with its serial, found in sysfs; a missing data volume does not stop
// the boot (nofail), so SSH stays reachable to repair it. That service
// checks the data volume before the mount and formats it only if it is
// blank: not systemd's x-systemd.makefs, which formats whatever blkid
// cannot read, nor systemd-fsck (pass 0), which would write to a volume
// whose primary superblock is damaged. The link is not under /dev, so
// systemd does not wait for udev to announce the disk (about 12 s of an
// emulated boot on an idle host, 50 s seen on a busy one); the service
// itself waits up to systemd's default 90 s for the kernel to find it.
func fstab(id Identity) string {
	return fmt.Sprintf("# written by ostal\n"+
		"PARTUUID=%s\t/\text4\tdefaults,errors=remount-ro\t0\t1\n"+
		"%s\t%s\text4\tdefaults,nofail,x-systemd.requires=ostal-data-volume.service\t0\t0\n",
		id.RootPartUUID, DataVolumeLink, DataMount)
}
