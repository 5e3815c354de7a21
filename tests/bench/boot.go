package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ostal/ostal/internal/cli"
	"github.com/ostal/ostal/tests/checks"
	"github.com/ostal/ostal/tests/harness"
)

// bootSample is one image's boots: from domain start, ready (sshd), every
// service healthy on a fresh data volume (the first boot, which
// initialises it), and every service healthy again after a reboot on that
// volume (what a redeploy costs).
type bootSample struct {
	image                 string
	ready, healthy, again []float64
	accel                 string
}

// benchBoots boots each image runs times and prints one row per image:
// the full image beside the small and tiny test images, whose boots the
// test suite repeats most. Under the accelerator the harness finds usable
// (KVM only where a guest really runs under it; the other row says why it
// is empty).
func benchBoots(ctx context.Context, imgs []string, runs int) error {
	var samples []*bootSample
	for _, image := range imgs {
		s := &bootSample{image: image}
		for i := 0; i < runs; i++ {
			if err := benchBoot(ctx, s, i, runs); err != nil {
				return err
			}
		}
		samples = append(samples, s)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "boots, median of %d\tready (sshd)\thealthy, first boot\thealthy, after a reboot\t\n", runs)
	for _, s := range samples {
		for _, a := range []string{"qemu", "kvm"} {
			name := fmt.Sprintf("%s, %s", strings.TrimSuffix(filepath.Base(s.image), ".qcow2"), map[string]string{"qemu": "TCG", "kvm": "KVM"}[a])
			if a != s.accel {
				fmt.Fprintf(tw, "%s\t-\t-\t- (not used: KVM runs guests here only if the harness's probe boots one)\t\n", name)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, spread(s.ready, "s", 1, 1), spread(s.healthy, "s", 1, 1), spread(s.again, "s", 1, 1))
		}
	}
	return tw.Flush()
}

// benchBoot is one boot of s.image on a fresh volume and one reboot.
func benchBoot(ctx context.Context, s *bootSample, i, runs int) error {
	fmt.Fprintf(os.Stderr, "boot %d/%d: %s\n", i+1, runs, s.image)
	dir, err := os.MkdirTemp("", "ostal-bench-reports-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var rebooted, rebootReady float64
	reg := &checks.Registry{}
	reg.Register(checks.Check{Name: "bench.reboot", Disruptive: true, Timeout: 20 * time.Minute,
		Run: func(ctx context.Context, m checks.Machine) error {
			if err := m.Reboot(ctx); err != nil {
				return err
			}
			back := time.Now()
			rebootReady = m.ReadyAfter().Seconds()
			if err := checks.WaitHealthy(ctx, m); err != nil {
				return err
			}
			rebooted = m.ReadyAfter().Seconds() + time.Since(back).Seconds()
			// Where the reboot's time went, for whoever reads the log.
			if out, err := m.Run(ctx, "systemd-analyze critical-chain --no-pager; systemd-analyze blame --no-pager | head -n 15"); err == nil {
				fmt.Fprintf(os.Stderr, "after the reboot of %s:\n%s\n", s.image, out)
			}
			return nil
		}})
	rep, err := harness.Run(ctx, harness.Options{Image: s.image, ReportDir: dir, ReadyTimeout: 15 * time.Minute,
		Registry: reg, Progress: os.Stderr})
	if err != nil {
		return err
	}
	if profile, err := os.ReadFile(filepath.Join(rep.Dir, "boot-profile.txt")); err == nil {
		fmt.Fprintf(os.Stderr, "first boot of %s:\n%s\n", s.image, profile)
	}
	if !rep.OK {
		return fmt.Errorf("%s is not healthy: %s %v %v", s.image, rep.BootError, rep.Health, rep.Results)
	}
	s.accel = rep.Accel
	first := rep.ServicesHealthyAfter
	if first == 0 { // no services: ready is healthy, after a reboot too
		first, rebooted = rep.ReadyAfter, rebootReady
	}
	s.ready = append(s.ready, rep.ReadyAfter)
	s.healthy = append(s.healthy, first)
	s.again = append(s.again, rebooted)
	fmt.Fprintf(os.Stderr, "boot %d/%d: ready %.1f s, healthy %.1f s, healthy after a reboot %.1f s\n", i+1, runs, rep.ReadyAfter, first, rebooted)
	return nil
}

// bootImages returns the qcow2 of each spec to boot: the main spec's from
// build/ (`make image` wrote it), the test images' built into dir (their
// locks sit beside their specs; the shared cache makes this quick).
func bootImages(ctx context.Context, mainSpec string, specs []string, dir string) ([]string, error) {
	var out []string
	for _, spec := range specs {
		name := strings.TrimSuffix(filepath.Base(spec), ".yaml")
		if spec == mainSpec {
			out = append(out, filepath.Join("build", name+".qcow2"))
			continue
		}
		var stdout, stderr bytes.Buffer
		if code := cli.Run(ctx, []string{"build", "--output", dir, spec}, strings.NewReader(""), &stdout, &stderr); code != 0 {
			return nil, fmt.Errorf("ostal build %s: exit %d: %s", spec, code, stderr.String())
		}
		out = append(out, filepath.Join(dir, name+".qcow2"))
	}
	return out, nil
}
