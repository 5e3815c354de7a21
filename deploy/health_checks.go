package deploy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/ostal/ostal/tests/checks"
)

// healthPlan is what the deployer runs of an environment's health.checks
// on a new guest, and what it leaves out: production gets only the
// read-only checks (those that declare no Writes), of the services the
// image has, and nothing disruptive.
type healthPlan struct {
	Run []checks.Check
	// Writing, Disruptive and Missing are the names left out: checks that
	// write, checks that stop or reboot the machine, and checks of a
	// service the image lacks ("dav.calendar (dav)").
	Writing, Disruptive, Missing []string
}

// planHealthChecks selects the checks of globs in reg for an image
// offering services.
func planHealthChecks(reg *checks.Registry, globs, services []string) (healthPlan, error) {
	sel, err := reg.Select(globs)
	if err != nil {
		return healthPlan{}, err
	}
	var p healthPlan
	for _, c := range sel {
		switch missing := c.MissingServices(services); {
		case c.Disruptive:
			p.Disruptive = append(p.Disruptive, c.Name)
		case !c.ReadOnly():
			p.Writing = append(p.Writing, c.Name)
		case len(missing) > 0:
			p.Missing = append(p.Missing, fmt.Sprintf("%s (%s)", c.Name, strings.Join(missing, ", ")))
		default:
			p.Run = append(p.Run, c)
		}
	}
	return p, nil
}

// skipped says, a line per reason, which selected checks are left out
// and why.
func (p healthPlan) skipped() []string {
	var lines []string
	if len(p.Writing) > 0 {
		lines = append(lines, "skipping the checks that write, as production gets read-only checks only (ostal test --list says what each writes): "+strings.Join(p.Writing, ", "))
	}
	if len(p.Disruptive) > 0 {
		lines = append(lines, "skipping the disruptive checks, which stop or reboot the machine: "+strings.Join(p.Disruptive, ", "))
	}
	if len(p.Missing) > 0 {
		lines = append(lines, "skipping the checks of services the image lacks: "+strings.Join(p.Missing, ", "))
	}
	return lines
}

// validateHealthChecks refuses a health.checks entry that would run
// nothing on production: one naming a check that writes or is
// disruptive, or a glob of such checks only. A glob that also takes
// read-only checks is fine: the deployer skips the rest and says so.
// A glob matching no check is refused too; a bad glob is left to the
// caller, which says it is not one.
func validateHealthChecks(add func(field, hint, format string, args ...any), reg *checks.Registry, globs []string) {
	const hint = "name read-only checks, or a glob such as \"www.*\" that takes a service's read-only checks (the deployer skips the others and says so); ostal test --list shows what each check writes"
	for i, g := range globs {
		field := fmt.Sprintf("health.checks[%d]", i)
		if _, err := path.Match(g, ""); g == "" || err != nil {
			continue
		}
		if c, ok := reg.Lookup(g); ok {
			switch {
			case c.Disruptive:
				add(field, hint, "%q is disruptive: it stops or reboots the machine, so the deployer never runs it", g)
			case !c.ReadOnly():
				add(field, hint, "%q writes (%s), so the deployer never runs it on production", g, c.Writes)
			}
			continue
		}
		sel, err := reg.Select([]string{g})
		if err != nil {
			add(field, "name a check or a glob of checks; ostal test --list lists them", "no check is named %q", g)
			continue
		}
		var left []string
		for _, c := range sel {
			if c.ReadOnly() && !c.Disruptive {
				left = nil
				break
			}
			left = append(left, c.Name)
		}
		if len(left) > 0 {
			add(field, hint, "%q takes only checks that write or are disruptive (%s), so the deployer runs none of them", g, strings.Join(left, ", "))
		}
	}
}

// run runs the planned checks against the guest, each within its own
// timeout (a minute by default), the Before of those that have one
// first; it returns every failure.
func (p healthPlan) run(ctx context.Context, m checks.Machine) error {
	for _, c := range p.Run {
		if c.Before != nil {
			// A failed Before is the check's to report, when it runs.
			withTimeout(ctx, c, func(ctx context.Context) error { return c.Before(ctx, m) })
		}
	}
	var failed []error
	for _, c := range p.Run {
		if err := withTimeout(ctx, c, func(ctx context.Context) error { return c.Run(ctx, m) }); err != nil {
			failed = append(failed, fmt.Errorf("check %s: %w", c.Name, err))
		}
	}
	return errors.Join(failed...)
}

func withTimeout(ctx context.Context, c checks.Check, f func(context.Context) error) error {
	t := c.Timeout
	if t == 0 {
		t = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	return f(ctx)
}
