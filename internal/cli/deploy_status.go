package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ostal/ostal/deploy"
)

func runDeployStatus(ctx context.Context, env *Env, args []string) error {
	c := newDeployCmd(env, "status", "ENV",
		"Show the image the domain runs (digest, name, ostal commit), since when, the previous image, a swap in\n"+
			"progress if any, and the guest's own health report. Changes nothing; exits 1 if the guest is not healthy.",
		1, 1, "ostal deploy status tetaneutral", "ostal deploy status local --json")
	d, _, err := c.connect(ctx, args)
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := d.Status(ctx)
	if err != nil {
		return err
	}
	if err := c.print(s, func(w io.Writer) { printStatus(w, s) }); err != nil {
		return err
	}
	if s.Deployed && !s.Healthy {
		return fmt.Errorf("%s is not healthy", s.Domain)
	}
	return nil
}

func printStatus(w io.Writer, s *deploy.Status) {
	fmt.Fprintf(w, "%s on %s (%s)\n", s.Domain, s.URI, s.Environment)
	if !s.Deployed {
		fmt.Fprintln(w, "  not deployed yet: `ostal deploy swap` creates it")
		return
	}
	for _, r := range []struct {
		label string
		rel   *deploy.Release
	}{{"running", s.Current}, {"previous", s.Previous}} {
		if r.rel != nil {
			fmt.Fprintf(w, "  %-9s %s %s (commit %s) since %s\n", r.label, deploy.Short(r.rel.Digest), r.rel.Name,
				orNothing(r.rel.Commit), r.rel.Since.Local().Format("2006-01-02 15:04"))
		}
	}
	if s.Swapping != nil {
		fmt.Fprintf(w, "  swap %s in progress at step %s (the next `ostal deploy swap`, `rollback` or `gc` finishes it)\n", s.Swapping.ID, s.Swapping.Step)
	}
	fmt.Fprintf(w, "  guest     running=%v healthy=%v\n  health    %s\n", s.Running, s.Healthy, s.Health)
}

func runDeployHistory(ctx context.Context, env *Env, args []string) error {
	c := newDeployCmd(env, "history", "ENV",
		"List every swap recorded in the domain's metadata: who, when, from, to, result and downtime.",
		1, 1, "ostal deploy history tetaneutral", "ostal deploy history tetaneutral --json")
	d, _, err := c.connect(ctx, args)
	if err != nil {
		return err
	}
	defer d.Close()
	h, err := d.History(ctx)
	if err != nil {
		return err
	}
	if h == nil {
		h = []deploy.Swap{}
	}
	return c.print(h, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WHEN\tWHO\tFROM\tTO\tRESULT\tDOWNTIME\tDETAIL")
		for _, s := range h {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Started.Local().Format("2006-01-02 15:04"), s.Who,
				orNothing(deploy.Short(s.From)), deploy.Short(s.To), s.Result, (time.Duration(s.Downtime) * time.Second).String(), s.Detail)
		}
		tw.Flush()
	})
}
