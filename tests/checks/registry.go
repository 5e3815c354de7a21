// Package checks holds the named checks that decide whether a booted image
// is healthy: the boot test runs them against a local guest, the deployer
// against the deployed one. Each check is registered once, by a dotted name,
// in the file of the service it checks.
package checks

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ostal/ostal/provision"
)

// Check is one named, self-contained test of a booted machine.
type Check struct {
	// Name is dotted: "ssh", "wiki.edit", "dns.tcp". Globs select them.
	Name    string
	Summary string
	// Timeout bounds the check; zero means a minute.
	Timeout time.Duration
	// Disruptive checks reboot, swap or stop the machine: they run after
	// every other check, in registration order.
	Disruptive bool
	// Services are the image's services (names in provision.Services)
	// the check needs, all it reaches: dav.calendar talks to Radicale
	// through the tls service's nginx, so it needs dav and tls. The
	// harness skips the check on an image without one of them; empty
	// means every image gets it. Declared here, not guessed from the name.
	Services []string
	// Writes says, in words, what the check leaves on the machine or
	// shows the public while it runs ("a published post, deleted at the
	// end"), even when it cleans up after itself: a clean-up cut short
	// leaves it, and a deletion leaves its own trace (MediaWiki logs
	// it). Empty means read-only: the check changes nothing that anyone
	// sees or keeps, so the deployer may run it against production.
	// Declared here, never guessed from the name.
	Writes string
	// Before, when set, runs once before any selected check, and Run
	// runs after the read-only checks and before those that write:
	// no-trace notes what the public sees in Before and compares in Run.
	Before func(ctx context.Context, m Machine) error
	Run    func(ctx context.Context, m Machine) error
}

// ReadOnly reports whether the check leaves nothing behind: Writes is
// empty. (A disruptive check may write nothing and still stop the
// machine: Disruptive says that.)
func (c Check) ReadOnly() bool { return c.Writes == "" }

// MissingServices are the services of c that an image offering have
// lacks, in c's order; none means the check applies to the image.
func (c Check) MissingServices(have []string) []string {
	var missing []string
	for _, s := range c.Services {
		if !slices.Contains(have, s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// Registry is a set of checks by name.
type Registry struct {
	checks map[string]Check
	order  []string
}

// Default holds every check of ostal; files of this package add to it in
// their init functions, as kola's tests do.
var Default = &Registry{}

// Register adds a check; a name registered twice, or a service that
// provision does not know, is a programming error.
func (r *Registry) Register(c Check) {
	if r.checks == nil {
		r.checks = map[string]Check{}
	}
	if _, dup := r.checks[c.Name]; dup {
		panic(fmt.Sprintf("checks: %q is registered twice", c.Name))
	}
	if c.Name == "" || c.Run == nil {
		panic("checks: a check needs a name and a Run function")
	}
	for _, s := range c.Services {
		if _, ok := provision.Services[s]; !ok {
			panic(fmt.Sprintf("checks: %q needs the service %q, which is not in provision.Services (%s)", c.Name, s, strings.Join(provision.Names(), ", ")))
		}
	}
	r.checks[c.Name] = c
	r.order = append(r.order, c.Name)
}

// Lookup is the check registered under name.
func (r *Registry) Lookup(name string) (Check, bool) {
	c, ok := r.checks[name]
	return c, ok
}

// Names lists every registered check, sorted.
func (r *Registry) Names() []string {
	names := append([]string(nil), r.order...)
	sort.Strings(names)
	return names
}

// Select returns the checks matching any of the globs (all checks when
// none is given), in the order they run: the read-only ones, sorted by
// name, so that they see the machine before any check wrote to it; then
// the checks with a Before (which watch the read-only ones); then those
// that write, sorted by name; then the disruptive ones in registration
// order. A glob matching nothing is an error naming the checks there are.
func (r *Registry) Select(globs []string) ([]Check, error) {
	if len(globs) == 0 {
		globs = []string{"*"}
	}
	chosen := map[string]bool{}
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("check pattern %q: %w", g, err)
		}
		n := 0
		for _, name := range r.order {
			if ok, _ := path.Match(g, name); ok || strings.HasPrefix(name, g+".") {
				chosen[name] = true
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("no check is named %q; the checks are: %s", g, strings.Join(r.Names(), ", "))
		}
	}
	var readOnly, watching, writing, disruptive []Check
	for _, name := range r.order {
		if !chosen[name] {
			continue
		}
		switch c := r.checks[name]; {
		case c.Disruptive:
			disruptive = append(disruptive, c)
		case c.Before != nil:
			watching = append(watching, c)
		case c.ReadOnly():
			readOnly = append(readOnly, c)
		default:
			writing = append(writing, c)
		}
	}
	for _, cs := range [][]Check{readOnly, watching, writing} {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	}
	return slices.Concat(readOnly, watching, writing, disruptive), nil
}
