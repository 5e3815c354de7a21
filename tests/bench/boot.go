package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ostal/ostal/tests/checks"
	"github.com/ostal/ostal/tests/harness"
)

// benchBoot boots image runs times and reports the medians, from domain
// start, of: ready (sshd), every service healthy on a fresh data volume
// (the first boot, which initialises it), and every service healthy again
// after a reboot on that volume (what a redeploy costs). Under the
// accelerator the harness finds usable (KVM only where a guest really
// runs under it; the other row says why it is empty).
func benchBoot(ctx context.Context, image string, runs int) error {
	var ready, healthy, again []float64
	accel := ""
	for i := 0; i < runs; i++ {
		fmt.Fprintf(os.Stderr, "boot %d/%d: %s\n", i+1, runs, image)
		dir, err := os.MkdirTemp("", "ostal-bench-reports-")
		if err != nil {
			return err
		}
		var rebooted float64
		reg := &checks.Registry{}
		reg.Register(checks.Check{Name: "bench.reboot", Disruptive: true, Timeout: 20 * time.Minute,
			Run: func(ctx context.Context, m checks.Machine) error {
				if err := m.Reboot(ctx); err != nil {
					return err
				}
				back := time.Now()
				if err := checks.WaitHealthy(ctx, m); err != nil {
					return err
				}
				rebooted = m.ReadyAfter().Seconds() + time.Since(back).Seconds()
				return nil
			}})
		rep, err := harness.Run(ctx, harness.Options{Image: image, ReportDir: dir, ReadyTimeout: 15 * time.Minute,
			Registry: reg, Progress: os.Stderr})
		os.RemoveAll(dir)
		if err != nil {
			return err
		}
		if !rep.OK {
			return fmt.Errorf("%s is not healthy: %s %v %v", image, rep.BootError, rep.Health, rep.Results)
		}
		accel = rep.Accel
		ready = append(ready, rep.ReadyAfter)
		first := rep.ServicesHealthyAfter
		if first == 0 { // no services: ready is healthy
			first = rep.ReadyAfter
		}
		healthy = append(healthy, first)
		again = append(again, rebooted)
		fmt.Fprintf(os.Stderr, "boot %d/%d: ready %.1f s, healthy %.1f s, healthy after a reboot %.1f s\n", i+1, runs, rep.ReadyAfter, first, rebooted)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "boot of %s, median of %d\tready (sshd)\thealthy, first boot\thealthy, after a reboot\t\n", image, runs)
	for _, a := range []string{"qemu", "kvm"} {
		name := map[string]string{"qemu": "TCG", "kvm": "KVM"}[a]
		if a != accel {
			fmt.Fprintf(tw, "%s\t-\t-\t- (not used: KVM runs guests here only if the harness's probe boots one)\t\n", name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, spread(ready, "s", 1, 1), spread(healthy, "s", 1, 1), spread(again, "s", 1, 1))
	}
	return tw.Flush()
}
