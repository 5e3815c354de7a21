package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ostal/ostal/deploy"
)

func runDeploySwap(ctx context.Context, env *Env, args []string) error {
	c := newDeployCmd(env, "swap", "ENV [image.qcow2] [--now | --in-window]",
		"Make an image the domain's OS, keeping its data volumes: push it if needed, stop the guest, snapshot its\n"+
			"disks, point it at the new image, start it and wait for every health check. If it is not healthy in time,\n"+
			"the previous image and the data as they were come back by themselves. The first swap creates the domain\n"+
			"and its data volumes. Outside the maintenance window a swap is refused unless --now or --in-window.",
		1, 2, "ostal deploy swap tetaneutral --in-window            # wait for the window, then swap",
		"ostal deploy swap tetaneutral build/utzqanil.qcow2 --now --json")
	mode := modeFlags(c.fs)
	c.check = deploy.CanSwap
	d, rest, err := c.connect(ctx, args)
	if err != nil {
		return err
	}
	defer d.Close()
	img, err := imageArg(d, rest)
	if err != nil {
		return err
	}
	sw, err := d.Swap(ctx, img, mode())
	return reportSwap(c, sw, err)
}

func modeFlags(fs *flag.FlagSet) func() deploy.Mode {
	now := fs.Bool("now", false, "swap at once, even outside the maintenance window")
	wait := fs.Bool("in-window", false, "wait for the maintenance window to open, then swap")
	return func() deploy.Mode {
		switch {
		case *now:
			return deploy.Now
		case *wait:
			return deploy.WaitForWindow
		}
		return deploy.InWindowOnly
	}
}

// reportSwap prints what a swap did; a rollback is a failure (exit 1)
// that still prints its line.
func reportSwap(c *deployCmd, sw *deploy.Swap, err error) error {
	var rb *deploy.RolledBackError
	if err != nil && !errors.As(err, &rb) {
		return err
	}
	if sw != nil {
		perr := c.print(sw, func(w io.Writer) {
			fmt.Fprintf(w, "swap %s: %s, from %s to %s, %.0f s without service\n",
				sw.ID, sw.Result, orNothing(deploy.Short(sw.From)), deploy.Short(sw.To), sw.Downtime)
		})
		if perr != nil {
			return perr
		}
	}
	return err
}

func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
