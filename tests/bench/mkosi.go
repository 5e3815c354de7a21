package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ostal/ostal/images"
)

func mkosiVersion() string {
	out, err := exec.Command("mkosi", "--version").Output()
	if err != nil {
		return "(not installed)"
	}
	f := strings.Fields(string(out))
	return f[len(f)-1]
}

// benchMkosi builds the spec's package set as a bootable GPT ext4 disk with
// mkosi. Its package cache is shared between runs (the first run fills
// it), like ostal's .deb cache, so neither measures the mirror.
func benchMkosi(ctx context.Context, spec *images.Spec, dir, cache string, s *sample) error {
	for _, d := range []string{dir, cache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(cache, ".filled")); err != nil {
		if _, err := mkosiBuild(ctx, spec, dir, cache); err != nil {
			return fmt.Errorf("fill mkosi's cache: %w", err)
		}
		os.WriteFile(filepath.Join(cache, ".filled"), nil, 0o644)
	}
	d, err := mkosiBuild(ctx, spec, dir, cache)
	if err != nil {
		return err
	}
	s.cold = append(s.cold, d.Seconds())
	raw := filepath.Join(dir, "image.raw")
	qcow := filepath.Join(dir, "image.qcow2")
	if out, err := exec.CommandContext(ctx, "qemu-img", "convert", "-c", "-O", "qcow2", raw, qcow).CombinedOutput(); err != nil {
		return fmt.Errorf("compress mkosi's image: %v: %s", err, out)
	}
	if fi, err := os.Stat(qcow); err == nil {
		s.size = append(s.size, float64(fi.Size()))
	}
	s.rawSize = append(s.rawSize, float64(mapAllocated(ctx, raw)))
	return os.RemoveAll(dir)
}

func mkosiBuild(ctx context.Context, spec *images.Spec, dir, cache string) (time.Duration, error) {
	conf := fmt.Sprintf(`[Distribution]
Distribution=debian
Release=%s
Mirror=%s

[Output]
Format=gpt_ext4
Bootable=yes
Output=%s

[Content]
Packages=%s
Cache=%s

[Partitions]
RootSize=%s
`, spec.Suite, spec.Mirror, filepath.Join(dir, "image.raw"), strings.Join(spec.Packages, " "), cache, strings.TrimSuffix(spec.DiskSize, "iB"))
	if err := os.WriteFile(filepath.Join(dir, "mkosi.default"), []byte(conf), 0o644); err != nil {
		return 0, err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "mkosi", "--force", "build")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("mkosi: %v: %s", err, mkosiReason(string(out)))
	}
	return time.Since(start), nil
}

// mkosiReason picks the line that says why mkosi stopped out of its
// output (a Python traceback when a command it runs fails).
func mkosiReason(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.Contains(l, "Error") || strings.HasPrefix(l, "subprocess.CalledProcessError") {
			return l
		}
	}
	return lastLines(out, 5)
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
