package checks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ostal/ostal/provision"
)

// The public ports the machine serves answer from outside. On a swap's
// candidate, whose firewall keeps them shut to the world until the
// commit, the deployer's Machine reaches them through its SSH session:
// this check then shows that its other checks see the services.
func init() {
	Default.Register(Check{Name: "firewall.public", Summary: "every public port the machine serves (mail, the web) answers from outside",
		Timeout: time.Minute, Services: []string{"firewall"}, Run: checkFirewallPublic})
}

func checkFirewallPublic(ctx context.Context, m Machine) error {
	// The kernel's own tables: the smallest images have no ss.
	out, err := m.Run(ctx, "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null || true")
	if err != nil {
		return err
	}
	served, err := publicListeners(out)
	if err != nil {
		return err
	}
	if len(served) == 0 {
		m.Note("nothing listens on the public ports %v", provision.PublicTCPPorts)
		return nil
	}
	var silent, answered []string
	for _, port := range served {
		addr, err := m.Addr(port)
		if err != nil {
			return err
		}
		answer, ending, err := probe(ctx, addr)
		switch {
		case err != nil:
			return fmt.Errorf("guest port %d: %w", port, err)
		case len(answer) == 0:
			silent = append(silent, fmt.Sprintf("port %d (through %s): %s", port, addr, ending))
		default:
			answered = append(answered, fmt.Sprint(port))
		}
	}
	m.Note("answered from outside: %s", strings.Join(answered, ", "))
	if len(silent) > 0 {
		return errors.New("the machine listens on these public ports, but they do not answer from outside (nft list ruleset; /usr/lib/ostal/public-ports status):\n  " +
			strings.Join(silent, "\n  "))
	}
	return nil
}

// publicListeners are the public ports with a listening socket on a
// non-loopback address in /proc/net/tcp{,6}: "sl local_address
// rem_address st …", addresses in hex ("0100007F:0019"), 0A listening.
func publicListeners(table string) ([]int, error) {
	var ports []int
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] == "sl" || f[3] != "0A" {
			continue
		}
		host, port, ok := strings.Cut(f[1], ":")
		p, err := strconv.ParseUint(port, 16, 16)
		if !ok || err != nil {
			return nil, fmt.Errorf("/proc/net/tcp has the local address %q, expected HEX:HEXPORT", f[1])
		}
		if loopbackHex(host) || !slices.Contains(provision.PublicTCPPorts, int(p)) || slices.Contains(ports, int(p)) {
			continue
		}
		ports = append(ports, int(p))
	}
	slices.Sort(ports)
	return ports, nil
}

// loopbackHex: 127.x.x.x (little-endian: "..7F") or ::1 as the kernel
// prints them.
func loopbackHex(h string) bool {
	return len(h) == 8 && strings.HasSuffix(h, "7F") || h == "00000000000000000000000001000000"
}
