package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// candidateCredential names, in a domain's definition, the swap whose
// candidate the guest is (provision/firewall's public-ports reads it).
const candidateCredential = "ostal.candidate"

// candidateOf is the swap whose candidate its new image boots as: a swap
// from an earlier image may still roll the data back to its snapshot, so
// until it commits the public writes nothing there (no mail accepted, no
// page saved) that a rollback would drop. A first deployment has no data
// to go back to and serves at once; so does a rollback's previous image.
func candidateOf(j *Journal) string {
	if j == nil || j.From == nil {
		return ""
	}
	return j.ID
}

// servesAsCandidate tells whether the guest now runs as the candidate of
// st's swap: any step of it but the rollback.
func servesAsCandidate(st *State) bool {
	j := st.Journal
	return candidateOf(j) != "" && j.Step != StepRollback
}

// openToPublic makes the committed candidate serve the public: its ports
// opened now (and its swap written on its data volume, so a reboot opens
// them again), and its definition without the credential, so a start by
// libvirt serves at once.
func (d *Deployer) openToPublic(ctx context.Context, st *State) error {
	j := st.Journal
	id := candidateOf(j)
	if id == "" {
		return nil
	}
	running, err := d.host.Running(ctx, d.Env.Domain)
	if err != nil {
		return err
	}
	if running {
		if err := d.openPublic(ctx, st, j.To, id); err != nil {
			return fmt.Errorf("open the public ports of %s: %w", d.Env.Domain, err)
		}
	}
	return d.define(ctx, st, j.To, "")
}

// openPublicPorts asks the guest to open its public ports, retrying
// while its SSH does not answer (it did a moment ago, for the checks).
func (d *Deployer) openPublicPorts(ctx context.Context, st *State, rel Release, swap string) error {
	g, err := d.newGuest(st, rel)
	if err != nil {
		return err
	}
	defer g.close()
	// An image older than public-ports never shut them.
	cmd := fmt.Sprintf(`if [ -x /usr/lib/ostal/public-ports ]; then /usr/lib/ostal/public-ports open %s; fi`, swap)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		out, err := g.Run(ctx, cmd)
		if err == nil {
			if out = strings.TrimSpace(out); out != "" {
				d.say("%s", out)
			}
			return nil
		}
		if errors.Is(err, errHostKeyChanged) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(5 * time.Second):
		}
	}
}
