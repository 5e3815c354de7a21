package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ostal/ostal/tests/harness"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runTest(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "test", "image.qcow2",
		"Boot an image under libvirt and run named checks against it from the host. The image is never\n"+
			"modified: the guest boots from an overlay with fresh data volumes, all removed at the end.\n"+
			"Prints each check as it runs, then a table and the report folder; exits 1 if any check fails.",
		"ostal test build/utzqanil.qcow2",
		"ostal test --check ssh --check 'wiki.*' build/utzqanil.qcow2",
		"ostal test --swap-image build/utzqanil-next.qcow2 --firmware uefi build/utzqanil.qcow2",
		"ostal test --json --keep build/utzqanil.qcow2   # keep the domain to look at it")
	var o harness.Options
	var checkGlobs stringList
	fs.Var(&checkGlobs, "check", "run only checks matching this name or glob (repeatable); all by default")
	fs.BoolVar(&o.Keep, "keep", false, "keep the domain and its volumes after the run, for inspection")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	list := fs.Bool("list", false, "list the checks, with the services each needs and what each writes, and exit")
	fs.StringVar(&o.URI, "uri", "qemu:///system", "libvirt URI")
	fs.StringVar(&o.SwapImage, "swap-image", "", "a rebuilt image (another digest) for the persistence check's swap")
	fs.StringVar(&o.Firmware, "firmware", "bios", `"bios" (SeaBIOS) or "uefi" (OVMF)`)
	fs.StringVar(&o.Accel, "accel", "auto", `"auto" (try KVM by booting, else TCG), "kvm" or "qemu"`)
	fs.StringVar(&o.ReportDir, "reports", "build/reports", "folder for report folders")
	fs.StringVar(&o.Pool, "pool", "ostal-test", "libvirt storage pool for the run's volumes")
	fs.DurationVar(&o.ReadyTimeout, "ready-timeout", 5*time.Minute, "how long the guest may take to report ready")
	fs.StringVar(&o.PoolPath, "pool-path", "/var/lib/ostal/test-pool", "where the pool lives if ostal creates it")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.Checks = checkGlobs
	if *list {
		return listChecks(env.Stdout, o)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "ostal test: name one image, e.g. build/utzqanil.qcow2")
		return errUsage
	}
	if o.Firmware != "bios" && o.Firmware != "uefi" {
		return fmt.Errorf(`--firmware %q: use "bios" or "uefi"`, o.Firmware)
	}
	o.Image = fs.Arg(0)
	o.Progress = env.Stdout
	if *asJSON {
		o.Progress = env.Stderr
	}
	r, err := harness.Run(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printReport(env.Stdout, r)
	}
	if !r.OK {
		return errors.New("the image is not healthy; see " + r.Dir + "/report.md")
	}
	return nil
}

func listChecks(w io.Writer, o harness.Options) error {
	o.ApplyDefaults()
	cs, err := o.Registry.Select(o.Checks)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// The services a check needs: an image without them skips it. What
	// it writes: the deployer runs only the read-only ones.
	fmt.Fprintln(tw, "check\tneeds\twrites\tsummary")
	for _, c := range cs {
		needs := strings.Join(c.Services, ",")
		if needs == "" {
			needs = "-"
		}
		writes, summary := "-", c.Summary
		if !c.ReadOnly() {
			writes, summary = "yes", summary+"; leaves "+c.Writes
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, needs, writes, summary)
	}
	return tw.Flush()
}

func printReport(w io.Writer, r *harness.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\ncheck\tresult\tseconds")
	for _, res := range r.Results {
		result := "ok"
		if !res.OK {
			result = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\n", res.Check, result, res.Seconds)
	}
	tw.Flush()
	if r.BootError != "" {
		fmt.Fprintf(w, "\nthe guest never became ready: %s\n", r.BootError)
	}
	for _, p := range r.ConsoleProblems {
		fmt.Fprintf(w, "console: %s\n", p)
	}
	fmt.Fprintf(w, "\naccelerator %s, ready after %.1f s, all checks green after %.1f s\nreport    %s\n", r.Accel, r.ReadyAfter, r.HealthyAfter, r.Dir)
}
