package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ostal/ostal/images"
)

// benchMkosi builds the spec's package set as a bootable GPT disk with the
// tools tree's mkosi. Its package cache is kept across runs and benches
// (the first build of a package set fills it), like ostal's .deb cache,
// and the measured build reads only that cache, so neither measures the
// mirror.
func benchMkosi(ctx context.Context, spec *images.Spec, tools, dir string, s *sample) error {
	cache := filepath.Join(mkosiCacheDir(), "packages")
	for _, d := range []string{filepath.Join(dir, "conf"), filepath.Join(dir, "ws"), cache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	pkgs := mkosiPackages(spec)
	key := sha256.Sum256([]byte(strings.Join(append([]string{spec.Mirror, spec.Suite}, pkgs...), "\n")))
	filled := filepath.Join(cache, fmt.Sprintf(".filled-%x", key[:6]))
	if _, err := os.Stat(filled); err != nil {
		fmt.Fprintln(os.Stderr, "filling mkosi's package cache from the mirror")
		if _, err := mkosiBuild(ctx, spec, pkgs, tools, dir, cache, "never"); err != nil {
			return fmt.Errorf("fill mkosi's cache: %w", err)
		}
		os.WriteFile(filled, nil, 0o644)
	}
	d, err := mkosiBuild(ctx, spec, pkgs, tools, dir, cache, "always")
	if err != nil {
		return err
	}
	s.cold = append(s.cold, d.Seconds())
	raw := filepath.Join(dir, "out", "image.raw")
	qcow := filepath.Join(dir, "image.qcow2")
	// The host's qemu-img, with the spec's cluster compression: the same
	// program and settings as ostal's qcow2, so only the disks differ.
	if err := qemuImg(ctx, "convert", "-c", "-O", "qcow2", "-o", "compression_type="+spec.Compression, raw, qcow); err != nil {
		return fmt.Errorf("compress mkosi's image: %w", err)
	}
	if fi, err := os.Stat(qcow); err == nil {
		s.size = append(s.size, float64(fi.Size()))
	}
	s.rawSize = append(s.rawSize, float64(mapAllocated(ctx, raw)))
	return os.RemoveAll(dir)
}

// mkosiPackages is the spec's whole package set (its services' too, as
// ostal installs them) plus systemd-boot-efi: mkosi takes the EFI stub and
// boot loader from the image, where ostal brings GRUB from its tools.
func mkosiPackages(spec *images.Spec) []string {
	return append(spec.AllPackages(), "systemd-boot-efi")
}

// mkosiBuild runs one `mkosi build`; cacheOnly is mkosi's CacheOnly=:
// "never" syncs the metadata and downloads, "always" reads only the cache.
func mkosiBuild(ctx context.Context, spec *images.Spec, pkgs []string, tools, dir, cache, cacheOnly string) (time.Duration, error) {
	diskBytes, err := images.DiskSizeBytes(spec.DiskSize)
	if err != nil {
		return 0, err
	}
	for name, text := range mkosiConfig(spec, pkgs, diskBytes, cacheOnly) {
		p := filepath.Join(dir, "conf", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	out, err := inTools(ctx, tools, dir, cache, "mkosi", "--force", "build").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("mkosi: %v: %s", err, mkosiReason(string(out)))
	}
	return time.Since(start), nil
}

// mkosiConfig is mkosi's configuration directory, as paths under /bench
// inside the tools tree (see inToolsScript).
func mkosiConfig(spec *images.Spec, pkgs []string, diskBytes int64, cacheOnly string) map[string]string {
	const espBytes = 512 << 20 // mkosi's own default ESP
	return map[string]string{
		"mkosi.conf": fmt.Sprintf(`[Distribution]
Distribution=debian
Release=%s
Architecture=%s

[Output]
Format=disk
Output=image
OutputDirectory=/bench/out
RepartDirectories=/bench/conf/repart

[Content]
Packages=%s
WithDocs=no
Bootable=yes
Bootloader=systemd-boot
KernelCommandLine=%s

[Build]
PackageCacheDirectory=/bench/cache
SandboxTrees=/bench/conf/sandbox
WorkspaceDirectory=/bench/ws
CacheOnly=%s
`, spec.Suite, mkosiArch[spec.Architecture], strings.Join(pkgs, ","), strings.Join(spec.KernelCmdline, " "), cacheOnly),
		// Only the spec's mirror and suite, as ostal's lock: mkosi's own
		// list adds the -updates, -security and -debug archives, the last
		// two from hosts other than the mirror.
		"sandbox/etc/apt/sources.list.d/mkosi.sources": fmt.Sprintf(`Types: deb
URIs: %s
Suites: %s
Components: %s
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`, spec.Mirror, spec.Suite, strings.Join(spec.Components, " ")),
		// mkosi's default layout, the root sized so the disk is the
		// spec's disk_size, as ostal's is.
		"repart/00-esp.conf": fmt.Sprintf(`[Partition]
Type=esp
Format=vfat
CopyFiles=/boot:/
CopyFiles=/efi:/
SizeMinBytes=%d
SizeMaxBytes=%d
`, espBytes, espBytes),
		"repart/10-root.conf": fmt.Sprintf(`[Partition]
Type=root
Format=ext4
CopyFiles=/
SizeMinBytes=%d
`, diskBytes-espBytes-(2<<20)),
	}
}

// mkosiArch names Debian's architectures as mkosi does.
var mkosiArch = map[string]string{"amd64": "x86-64", "arm64": "arm64", "i386": "x86"}

func qemuImg(ctx context.Context, args ...string) error {
	if out, err := exec.CommandContext(ctx, "qemu-img", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("qemu-img %s: %v: %s", args[0], err, out)
	}
	return nil
}

// mkosiReason picks the line that says why mkosi stopped out of its
// output: apt's "E:" line or a Python error, else mkosi's last lines,
// which name the command that failed and what it said.
func mkosiReason(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.Contains(l, "Error") || strings.HasPrefix(l, "E: ") {
			return l
		}
	}
	return lastLines(out, 3)
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
