package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ostal/ostal/tests/harness"
)

// benchBoot boots image runs times and reports the median time from
// domain start to ready and to every non-disruptive check green, under the
// accelerator the harness finds usable (KVM only where a guest really runs
// under it; the other row says why it is empty).
func benchBoot(ctx context.Context, image string, runs int) error {
	var ready, healthy []float64
	accel := ""
	for i := 0; i < runs; i++ {
		fmt.Fprintf(os.Stderr, "boot %d/%d: %s\n", i+1, runs, image)
		dir, err := os.MkdirTemp("", "ostal-bench-reports-")
		if err != nil {
			return err
		}
		rep, err := harness.Run(ctx, harness.Options{Image: image, ReportDir: dir, ReadyTimeout: 10 * time.Minute,
			Checks: []string{"boot", "ssh", "no-secrets"}, Progress: os.Stderr})
		os.RemoveAll(dir)
		if err != nil {
			return err
		}
		if !rep.OK {
			return fmt.Errorf("%s is not healthy: %s %v", image, rep.BootError, rep.Results)
		}
		accel = rep.Accel
		ready = append(ready, rep.ReadyAfter)
		healthy = append(healthy, rep.HealthyAfter)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "boot of %s, median of %d\tready\tall checks green\t\n", image, runs)
	for _, a := range []string{"qemu", "kvm"} {
		name := map[string]string{"qemu": "TCG", "kvm": "KVM"}[a]
		if a != accel {
			fmt.Fprintf(tw, "%s\t-\t- (not used: KVM runs guests here only if the harness's probe boots one)\t\n", name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.1f s\t%.1f s\t\n", name, median(ready), median(healthy))
	}
	return tw.Flush()
}
