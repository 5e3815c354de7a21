package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/ostal/ostal/deploy"
)

func runDeployStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "deploy status", "ENV",
		"Show the image the domain runs (digest, name, ostal commit), since when, the previous image, a swap in\n"+
			"progress if any, and the guest's own health report. Changes nothing.",
		"ostal deploy status tetaneutral", "ostal deploy status local --json")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	args, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	d, _, err := connectEnv(ctx, env, fs, args, 1, 1)
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := d.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env.Stdout, s)
	}
	w := env.Stdout
	fmt.Fprintf(w, "%s on %s (%s)\n", s.Domain, s.URI, s.Environment)
	if !s.Deployed {
		fmt.Fprintln(w, "  not deployed yet: `ostal deploy swap` creates it")
		return nil
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
		fmt.Fprintf(w, "  swap %s in progress at step %s (the next `ostal deploy swap` or `rollback` finishes or undoes it)\n", s.Swapping.ID, s.Swapping.Step)
	}
	fmt.Fprintf(w, "  guest     running=%v healthy=%v\n  health    %s\n", s.Running, s.Healthy, s.Health)
	if !s.Healthy {
		return fmt.Errorf("%s is not healthy", s.Domain)
	}
	return nil
}

func runDeployHistory(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "deploy history", "ENV",
		"List every swap recorded in the domain's metadata: who, when, from, to, result and downtime.",
		"ostal deploy history tetaneutral", "ostal deploy history tetaneutral --json")
	asJSON := fs.Bool("json", false, "print the history as JSON")
	args, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	d, _, err := connectEnv(ctx, env, fs, args, 1, 1)
	if err != nil {
		return err
	}
	defer d.Close()
	h, err := d.History(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if h == nil {
			h = []deploy.Swap{}
		}
		return printJSON(env.Stdout, h)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tWHO\tFROM\tTO\tRESULT\tDOWNTIME\tDETAIL")
	for _, s := range h {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Started.Local().Format("2006-01-02 15:04"), s.Who,
			orNothing(deploy.Short(s.From)), deploy.Short(s.To), s.Result, (time.Duration(s.Downtime) * time.Second).String(), s.Detail)
	}
	return tw.Flush()
}
