package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ostal/ostal/builders"
)

// The host is bookworm, whose mkosi 14 needs systemd-nspawn and udev; a
// machine without an init system has neither. Trixie's mkosi builds in its
// own mount-namespace sandbox and makes disks with systemd-repart, so the
// bench runs it from a trixie tree made with mmdebstrap, as ostal makes
// its tools from Debian rather than from the host.
const toolsSuite = "trixie"

// toolsPackages are what mkosi runs for a bootable Debian disk: apt and
// dpkg install, systemd-repart partitions, mkfs.ext4 and mkfs.fat format,
// ukify and the stub make the UKI, zstd packs the initrd. mkosi depends
// on most of them; naming them keeps the list from shrinking unseen.
var toolsPackages = []string{
	"mkosi", "apt", "dpkg", "debian-archive-keyring",
	"systemd-repart", "systemd-ukify", "systemd-boot-efi", "systemd-boot-tools",
	"e2fsprogs", "dosfstools", "mtools", "zstd", "cpio", "kmod", "fdisk",
}

// mkosiCacheDir holds the bench's mkosi state across runs: the tools trees
// and mkosi's package cache, in a folder of its own beside ostal's.
func mkosiCacheDir() string {
	return filepath.Join(builders.DefaultCacheDir(), "bench-mkosi")
}

// mkosiTools returns the tools tree for this mirror, making it once. It is
// keyed on what went into it, so a changed list makes a new tree; the
// packages' versions are whatever the mirror had that day, like a host.
func mkosiTools(ctx context.Context, mirror string) (string, error) {
	key := sha256.Sum256([]byte(strings.Join(append([]string{toolsSuite, mirror}, toolsPackages...), "\n")))
	dir := filepath.Join(mkosiCacheDir(), fmt.Sprintf("tools-%x", key[:6]))
	if _, err := os.Stat(filepath.Join(dir, "usr/bin/mkosi")); err == nil {
		return dir, nil
	}
	// Made aside and renamed, so an interrupted run leaves no half tree.
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "making mkosi's %s tools tree in %s (a few minutes, once)\n", toolsSuite, dir)
	cmd := exec.CommandContext(ctx, "mmdebstrap", "--mode=root", "--variant=apt",
		"--include="+strings.Join(toolsPackages, ","), toolsSuite, tmp, mirror)
	stopGroup(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("mmdebstrap the mkosi tools tree: %v: %s", err, lastLines(string(out), 5))
	}
	return dir, os.Rename(tmp, dir)
}

// mkosiVersion is the version of the mkosi in the tools tree, the one the
// bench runs; a chroot is enough for --version.
func mkosiVersion(tools string) string {
	if tools == "" {
		return "(no tools tree)"
	}
	out, err := exec.Command("chroot", tools, "mkosi", "--version").Output()
	if err != nil {
		return "(does not run)"
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return "(no version)"
	}
	return f[len(f)-1]
}

// inToolsScript runs a command with the tools tree as root, in a mount
// namespace of its own so nothing stays mounted on the host. The tree is
// bound onto itself first: mkosi's sandbox remounts / (MS_SLAVE), which
// fails with EINVAL where / is not a mount point, as in a bare chroot.
// $2 is bound at /bench and $3 at /bench/cache: the workspace and the
// output share a mount, so mkosi renames the disk rather than copying it.
const inToolsScript = `set -e
T=$1
mount --bind "$T" "$T"
mount -t proc proc "$T/proc"
mount --rbind /dev "$T/dev"
mount --rbind /sys "$T/sys"
mount -t tmpfs tmpfs "$T/tmp"
mkdir -p "$T/bench"
mount --bind "$2" "$T/bench"
mkdir -p "$T/bench/cache"
mount --bind "$3" "$T/bench/cache"
cp /etc/resolv.conf "$T/etc/resolv.conf"
shift 3
exec chroot "$T" sh -c 'cd /bench/conf && exec "$@"' sh "$@"
`

func inTools(ctx context.Context, tools, dir, cache string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--mount", "--propagation", "private",
		"sh", "-c", inToolsScript, "sh", tools, dir, cache}, args...)...)
	stopGroup(cmd)
	return cmd
}

// stopGroup makes a cancelled context end the command's whole process
// group: mkosi and mmdebstrap leave apt and dpkg running otherwise.
func stopGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
