package checks

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// The privacy promise, for every log at once: the address the checks
// connect from (the guest sees it on this very SSH session) is in no
// file under /var/log and nowhere in this boot's journal. Services lists
// ssh: the ssh service sets sshd's log level (provision/ssh), which the
// bare sshd of an image without it does not.
func init() {
	Default.Register(Check{Name: "privacy.logs", Summary: "the address the checks connect from is in no log: not in the journal, not under /var/log",
		Timeout: 2 * time.Minute, Services: []string{"ssh"}, Run: checkLogsPrivacy})
}

func checkLogsPrivacy(ctx context.Context, m Machine) error {
	// This session's client, as sshd tells the shell: "10.0.2.2 50362 22".
	out, err := m.Run(ctx, `set -- $SSH_CLIENT; echo "$1"`)
	if err != nil {
		return err
	}
	addr := strings.TrimSpace(out)
	if net.ParseIP(addr) == nil {
		return fmt.Errorf("the guest does not say where this SSH session comes from (SSH_CLIENT gives %q)", addr)
	}
	m.Note("the checks connect from %s, as the guest sees it", addr)
	// networkd names the same address as its DHCP server and gateway
	// (QEMU's user network): that line is about the network, not a client.
	journal, err := m.Run(ctx, fmt.Sprintf(`journalctl -b -q --no-pager -o short-monotonic | grep -F -w -e %q | grep -v -e ' systemd-networkd\[' || true`, addr))
	if err != nil {
		return fmt.Errorf("read the journal: %w", err)
	}
	files, err := m.Run(ctx, fmt.Sprintf(`grep -r -I -l -F -w -e %q /var/log 2>/dev/null || true`, addr))
	if err != nil {
		return fmt.Errorf("search /var/log: %w", err)
	}
	var leaks []string
	for _, l := range strings.Split(strings.TrimSpace(journal), "\n") {
		if l != "" {
			leaks = append(leaks, "journal: "+l)
		}
	}
	for _, f := range strings.Fields(files) {
		leaks = append(leaks, "file "+f)
	}
	if len(leaks) > 0 {
		if len(leaks) > 10 {
			leaks = append(leaks[:10], fmt.Sprintf("and %d more", len(leaks)-10))
		}
		return fmt.Errorf("the client address %s is kept in the logs:\n  %s", addr, strings.Join(leaks, "\n  "))
	}
	return nil
}
