package deploy

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/tests/checks"
)

// waitHealthy waits, within the environment's health timeout, until the
// guest answers SSH, its services report healthy, and the environment's
// named checks pass: the same checks as `ostal test`, from outside.
func (d *Deployer) waitHealthy(ctx context.Context, st *State, rel Release) error {
	timeout := d.Env.Health.TimeoutDuration()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	g, err := d.newGuest(st, rel)
	if err != nil {
		return err
	}
	defer g.close()
	if g.candidate = servesAsCandidate(st); g.candidate {
		if slices.Contains(rel.Services, "firewall") {
			d.say("until the swap is committed, %s answers the public on SSH and DNS only; the checks reach the rest through SSH", d.Env.Domain)
		} else {
			d.say("the image has no firewall service: the public reaches it before the swap is committed, and a rollback would drop what it wrote")
		}
	}
	d.say("waiting up to %s for %s to be healthy", timeout, d.Env.Domain)
	var lastErr error
	for {
		running, err := d.host.Running(ctx, d.Env.Domain)
		if err == nil && !running {
			return fmt.Errorf("the guest stopped %.0f s after it was started: the image does not boot (its console is in /var/log/libvirt/qemu/%s-serial.log on the host)",
				time.Since(start).Seconds(), d.Env.Domain)
		}
		if _, lastErr = g.Run(ctx, "true"); lastErr == nil {
			break
		}
		if errors.Is(lastErr, errHostKeyChanged) {
			return lastErr
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("the wait for health was interrupted: %w", ctx.Err())
			}
			return fmt.Errorf("no SSH answer within %s: %v", timeout, lastErr)
		case <-time.After(3 * time.Second):
		}
	}
	g.ready = time.Since(start)
	d.say("SSH answers after %.0f s", g.ready.Seconds())
	if err := checks.WaitHealthy(ctx, g); err != nil {
		return fmt.Errorf("within %s: %w", timeout, err)
	}
	// Production gets the read-only checks of the image's services only.
	plan, err := planHealthChecks(checks.Default, d.Env.Health.Checks, rel.Services)
	if err != nil {
		return fmt.Errorf("%s: health.checks: %w", d.Env.Path, err)
	}
	for _, line := range plan.skipped() {
		d.say("%s", line)
	}
	if err := plan.run(ctx, g); err != nil {
		return err
	}
	d.say("healthy after %.0f s (%d named checks passed)", time.Since(start).Seconds(), len(plan.Run))
	if g.learntKey != "" {
		return d.record(ctx, st, func(s *State) { s.GuestKey = g.learntKey })
	}
	return nil
}

var errHostKeyChanged = errors.New("the guest's SSH host key changed")

func (d *Deployer) newGuest(st *State, rel Release) (*guest, error) {
	signer, pem, err := deployerKey(d.Env)
	if err != nil {
		return nil, err
	}
	g := &guest{env: d.Env, name: d.Env.Domain, domain: rel.Serves, image: rel.Volume, keyPEM: pem, signer: signer}
	if d.Env.Guest.ACMECA != "" {
		b, err := os.ReadFile(d.Env.Guest.ACMECA)
		if err != nil {
			return nil, fmt.Errorf("%s: guest.acme_ca: %w", d.Env.Path, err)
		}
		g.roots = x509.NewCertPool()
		g.roots.AppendCertsFromPEM(b)
	}
	g.session.Dial = g.login
	g.tunnels.g = g
	known := st.GuestKey
	// Only the ssh service keeps host keys on the data volume; an image
	// without it makes new ones at every boot, and has nothing to pin.
	pin := slices.Contains(rel.Services, "ssh")
	g.hostKey = func(_ string, _ net.Addr, key ssh.PublicKey) error {
		line := string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(key)))
		if !pin {
			return nil
		}
		if known == "" {
			g.learntKey = line // trusted on first use, then pinned
			return nil
		}
		if line != known {
			return fmt.Errorf("%w: it was %s, it is now %s; the host keys live on the data volume, so this is another machine or "+
				"another volume. If that is expected, remove <guest-key> from the domain's ostal metadata", errHostKeyChanged, known, line)
		}
		return nil
	}
	return g, nil
}
