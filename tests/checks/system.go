package checks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// The checks every image gets: it boots, admins get in with their key and
// nobody with a password, it carries no secret, its data volume keeps
// data across reboots and image swaps, and it shuts down cleanly. None
// declares Services: ssh tests the sshd every image has (the harness
// logs in through it), not the ssh service's extras, and persistence
// keeps the data of whichever services the machine has.
func init() {
	Default.Register(Check{Name: "boot", Summary: "reached multi-user with no failed unit; time to first sshd answer", Run: checkBoot})
	Default.Register(Check{Name: "ssh", Summary: "the admin key logs in; passwords are refused; root has no password", Run: checkSSH})
	Default.Register(Check{Name: "no-secrets", Summary: "the image file holds no private key, host key, machine-id or password hash",
		Timeout: 5 * time.Minute, Run: checkNoSecrets})
	Default.Register(Check{Name: "persistence", Summary: "the data volume's files and every service's data (pages, posts, lists, files, events, host and DNSSEC keys) survive a swap to another image (--swap-image), which is a reboot too, or a reboot without one",
		Disruptive: true, Timeout: 25 * time.Minute, Run: checkPersistence,
		Writes: "a file on the data volume and, in each service, a page, a post, a list, a member with a file and an event, removed at the end"})
	Default.Register(Check{Name: "shutdown", Summary: "ACPI shutdown completes within two minutes",
		Disruptive: true, Timeout: 3 * time.Minute, Run: checkShutdown})
}

func checkBoot(ctx context.Context, m Machine) error {
	m.Note("ready %.1f s after start", m.ReadyAfter().Seconds())
	state, _ := m.Run(ctx, "systemctl is-system-running --wait")
	failed, err := m.Run(ctx, "systemctl --failed --plain --no-legend")
	if err != nil {
		return err
	}
	if strings.TrimSpace(failed) != "" {
		return fmt.Errorf("the system is %s; failed units:\n%s", strings.TrimSpace(state), strings.TrimSpace(failed))
	}
	if active, err := m.Run(ctx, "systemctl is-active multi-user.target"); err != nil || strings.TrimSpace(active) != "active" {
		return fmt.Errorf("multi-user.target is %q, not active (%v)", strings.TrimSpace(active), err)
	}
	return nil
}

func checkSSH(ctx context.Context, m Machine) error {
	who, err := m.Run(ctx, "id -un")
	if err != nil {
		return fmt.Errorf("the admin key does not log in: %w", err)
	}
	if strings.TrimSpace(who) != "root" {
		return fmt.Errorf("logged in as %q, not root", strings.TrimSpace(who))
	}
	addr, err := m.Addr(22)
	if err != nil {
		return err
	}
	for _, user := range []string{"root", "admin"} {
		c, err := Client(ctx, addr, user, ssh.Password("ostal-test-password"))
		if err == nil {
			c.Close()
			return fmt.Errorf("sshd accepted a password login as %s", user)
		}
	}
	cfg, err := m.Run(ctx, "sshd -T 2>/dev/null | grep -Ei '^(passwordauthentication|kbdinteractiveauthentication) '")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(cfg), "\n") {
		if !strings.HasSuffix(line, " no") {
			return fmt.Errorf("sshd allows passwords: %s", line)
		}
	}
	shadow, err := m.Run(ctx, "getent shadow root | cut -d: -f2")
	if err != nil {
		return err
	}
	if pw := strings.TrimSpace(shadow); pw == "" || !(pw == "*" || strings.HasPrefix(pw, "!")) {
		return fmt.Errorf("root's password field is %q: it must be locked (* or !)", pw)
	}
	return nil
}

func checkNoSecrets(ctx context.Context, m Machine) error {
	found, err := ImageSecrets(ctx, m.ImagePath())
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("the image file %s holds secrets:\n  %s", m.ImagePath(), strings.Join(found, "\n  "))
	}
	return nil
}

const dataProbe = "/srv/data/.ostal-persistence-check"

func checkPersistence(ctx context.Context, m Machine) error {
	token := make([]byte, 8)
	rand.Read(token)
	want := hex.EncodeToString(token)
	// The data volume is mounted "nofail", so readiness does not wait for
	// it; starting its mount unit does, until the device times out.
	if _, err := m.Run(ctx, "systemctl start srv-data.mount; mountpoint -q /srv/data || "+
		"{ echo 'the data volume is not mounted at /srv/data:' >&2; systemctl status --no-pager srv-data.mount >&2; exit 1; }"); err != nil {
		return err
	}
	if _, err := m.Run(ctx, fmt.Sprintf("echo %s > %s && sync", want, dataProbe)); err != nil {
		return err
	}
	k, err := keepServiceData(ctx, m)
	if err != nil {
		return err
	}
	defer k.remove()
	if len(k.names) > 0 {
		m.Note("kept: %s", strings.Join(k.names, "; "))
	}
	expect := func(after string) error {
		if err := k.check(ctx, m, after); err != nil {
			return err
		}
		got, err := m.Run(ctx, "cat "+dataProbe)
		if err != nil {
			return fmt.Errorf("after %s: %w", after, err)
		}
		if strings.TrimSpace(got) != want {
			return fmt.Errorf("after %s the data volume holds %q, not %q", after, strings.TrimSpace(got), want)
		}
		return nil
	}
	// A swap is a shutdown and a boot onto another image: it proves a
	// reboot too, so it costs one boot of the image, not two. Without a
	// second image the check proves what it can, a reboot.
	after := "a reboot"
	if next := m.SwapImage(); next != "" {
		after = "a swap to " + next
		err = m.Swap(ctx, next)
	} else {
		err = m.Reboot(ctx)
	}
	if err != nil {
		return err
	}
	if err := expect(after); err != nil {
		return err
	}
	m.Note("survived %s", after)
	_, err = m.Run(ctx, "rm -f "+dataProbe)
	return err
}

func checkShutdown(ctx context.Context, m Machine) error {
	limit := 2 * time.Minute
	sctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	d, err := m.Shutdown(sctx)
	if err != nil {
		return fmt.Errorf("the guest did not power off within %s: %w", limit, err)
	}
	m.Note("powered off %.1f s after the ACPI request", d.Seconds())
	return nil
}
