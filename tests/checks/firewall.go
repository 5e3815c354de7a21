package checks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The firewall: the ports of internal services do not answer from
// outside, nothing else listens on a public address, and the input chain
// drops by default.
func init() {
	Default.Register(Check{Name: "firewall.closed", Summary: "internal services (MariaDB, Radicale, Mailman, HyperKitty, LMTP) and submission (587) do not answer from outside",
		Timeout: time.Minute, Services: []string{"firewall"}, Run: checkFirewallClosed})
	Default.Register(Check{Name: "firewall.listen", Summary: "inside, every socket on a public address is on an allowed port (SSH, mail, DNS, web)",
		Timeout: time.Minute, Services: []string{"firewall"}, Run: checkFirewallListen})
	Default.Register(Check{Name: "firewall.rules", Summary: "the nftables ruleset drops incoming traffic by default, for IPv4 and IPv6",
		Timeout: time.Minute, Services: []string{"firewall"}, Run: checkFirewallRules})
}

// internalPorts are guest TCP ports the harness forwards although nothing
// there may answer from outside: submission (not offered: no mailboxes),
// MariaDB, Radicale, HyperKitty/Postorius, Mailman's REST API and
// Mailman's LMTP.
var internalPorts = []int{587, 3306, 5232, 8000, 8001, 8024}

// probeWait is how long a probe waits for a first byte. QEMU's user-mode
// forward accepts every connection on the host at once; a closed guest
// port shows as the connection then closing, or as silence.
const probeWait = 8 * time.Second

// probe connects to a host address, writes a few bytes and reads: it
// returns the bytes read (a service answered) or how the connection ended.
func probe(ctx context.Context, addr string) (answer []byte, ending string, err error) {
	d := net.Dialer{Timeout: 15 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, "refused", nil
		}
		return nil, "", fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeWait))
	// An HTTP request line makes HTTP servers talk; MariaDB talks first.
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		return nil, "reset on write", nil
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if n > 0 {
		return buf[:n], "", nil
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return nil, "closed", nil
	case errors.Is(err, syscall.ECONNRESET):
		return nil, "reset", nil
	case errors.As(err, &ne) && ne.Timeout():
		return nil, fmt.Sprintf("silent for %s", probeWait), nil
	}
	return nil, "", fmt.Errorf("read from %s: %w", addr, err)
}

func checkFirewallClosed(ctx context.Context, m Machine) error {
	type result struct {
		answer       []byte
		ending       string
		err          error
		addr, reason string
	}
	results := make([]result, len(internalPorts))
	var wg sync.WaitGroup
	for i, port := range internalPorts {
		addr, err := m.Addr(port)
		if err != nil {
			return fmt.Errorf("the harness does not forward guest port %d: %w", port, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			r.addr = addr
			r.answer, r.ending, r.err = probe(ctx, addr)
		}()
	}
	wg.Wait()
	var open, closed []string
	for i, port := range internalPorts {
		r := results[i]
		switch {
		case r.err != nil:
			return fmt.Errorf("guest port %d: %w", port, r.err)
		case len(r.answer) > 0:
			open = append(open, fmt.Sprintf("port %d answered from outside (through %s) with %q, expected nothing", port, r.addr, r.answer))
		default:
			closed = append(closed, fmt.Sprintf("%d %s", port, r.ending))
		}
	}
	m.Note("no answer: %s", strings.Join(closed, ", "))
	if len(open) > 0 {
		return errors.New(strings.Join(open, "\n"))
	}
	return nil
}

// listener is one line of `ss -H -ltnup`.
type listener struct {
	Proto   string
	Host    string // the bound address, without brackets or interface
	Iface   string // the interface of "addr%iface", if any
	Port    int
	Process string // "sshd(1234)" …
}

func (l listener) String() string {
	s := fmt.Sprintf("%s %s:%d", l.Proto, l.Host, l.Port)
	if strings.Contains(l.Host, ":") {
		s = fmt.Sprintf("%s [%s]:%d", l.Proto, l.Host, l.Port)
	}
	if l.Iface != "" {
		s += " on " + l.Iface
	}
	if l.Process != "" {
		s += " by " + l.Process
	}
	return s
}

// Loopback reports whether only the guest itself can reach the socket.
func (l listener) Loopback() bool {
	if l.Iface == "lo" {
		return true
	}
	ip := net.ParseIP(l.Host)
	return ip != nil && ip.IsLoopback()
}

var ssUser = regexp.MustCompile(`\("([^"]*)",pid=(\d+)`)

// parseListeners reads `ss -H -ltnup` (or -ltnu): "Netid State Recv-Q
// Send-Q Local Peer [Process]".
func parseListeners(out string) ([]listener, error) {
	var ls []listener
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 6 || (f[0] != "tcp" && f[0] != "udp") {
			return nil, fmt.Errorf("ss printed %q, expected \"tcp|udp STATE RECV-Q SEND-Q LOCAL PEER [PROCESS]\"", line)
		}
		local := f[4]
		i := strings.LastIndex(local, ":")
		if i < 0 {
			return nil, fmt.Errorf("ss printed the local address %q, expected ADDRESS:PORT", local)
		}
		port, err := strconv.Atoi(local[i+1:])
		if err != nil {
			return nil, fmt.Errorf("ss printed the local address %q, expected a numeric port", local)
		}
		host, iface, _ := strings.Cut(local[:i], "%")
		host = strings.Trim(host, "[]")
		if host == "*" {
			host = "0.0.0.0"
		}
		var procs []string
		for _, u := range ssUser.FindAllStringSubmatch(strings.Join(f[6:], " "), -1) {
			if p := u[1] + "(" + u[2] + ")"; !slices.Contains(procs, p) {
				procs = append(procs, p)
			}
		}
		ls = append(ls, listener{Proto: f[0], Host: host, Iface: iface, Port: port, Process: strings.Join(procs, ",")})
	}
	return ls, nil
}

// allowedPorts are the ports that may be bound to a public address: SSH,
// SMTP, DNS and the web (no submission port: the machine has no mailboxes).
var allowedPorts = []int{22, 25, 53, 80, 443}

// dhcpClientPorts are the UDP ports the network's DHCP clients bind on the
// guest's own address to renew their leases; the firewall still filters them.
var dhcpClientPorts = []int{68, 546}

// exposed splits listeners bound to a public address into allowed ones
// and offenders.
func exposed(ls []listener, allowed []int) (ok, offenders []listener) {
	for _, l := range ls {
		switch {
		case l.Loopback():
		case slices.Contains(allowed, l.Port):
			ok = append(ok, l)
		case l.Proto == "udp" && slices.Contains(dhcpClientPorts, l.Port):
			ok = append(ok, l)
		default:
			offenders = append(offenders, l)
		}
	}
	return ok, offenders
}

func checkFirewallListen(ctx context.Context, m Machine) error {
	out, err := m.Run(ctx, "ss -H -ltnup")
	if err != nil {
		return err
	}
	ls, err := parseListeners(out)
	if err != nil {
		return err
	}
	allowed := allowedPorts
	ok, bad := exposed(ls, allowed)
	var seen []string
	for _, l := range ok {
		if s := fmt.Sprintf("%s %d", l.Proto, l.Port); !slices.Contains(seen, s) {
			seen = append(seen, s)
		}
	}
	m.Note("on public addresses: %s", strings.Join(seen, ", "))
	if len(bad) > 0 {
		var lines []string
		for _, l := range bad {
			lines = append(lines, l.String())
		}
		return fmt.Errorf("sockets on a public address outside the allowed ports %v (bind them to 127.0.0.1 or ::1):\n  %s",
			allowed, strings.Join(lines, "\n  "))
	}
	return nil
}

// nftChain is a base chain of an nftables ruleset.
type nftChain struct {
	Family, Table, Name, Hook, Policy string
}

var (
	nftTable  = regexp.MustCompile(`^\s*table\s+(\S+)\s+(\S+)\s*\{`)
	nftChainR = regexp.MustCompile(`^\s*chain\s+(\S+)\s*\{`)
	nftHook   = regexp.MustCompile(`\bhook\s+(\w+)`)
	nftPolicy = regexp.MustCompile(`\bpolicy\s+(\w+)`)
)

// parseNftChains lists the base chains (those with a hook) of the text
// of `nft list ruleset`.
func parseNftChains(ruleset string) []nftChain {
	var chains []nftChain
	var family, table string
	current := -1
	for _, line := range strings.Split(ruleset, "\n") {
		if t := nftTable.FindStringSubmatch(line); t != nil {
			family, table, current = t[1], t[2], -1
			continue
		}
		if c := nftChainR.FindStringSubmatch(line); c != nil {
			chains = append(chains, nftChain{Family: family, Table: table, Name: c[1]})
			current = len(chains) - 1
			continue
		}
		if current < 0 || !strings.Contains(line, "type ") {
			continue
		}
		if h := nftHook.FindStringSubmatch(line); h != nil {
			chains[current].Hook = h[1]
			chains[current].Policy = "accept" // nftables' default
			if p := nftPolicy.FindStringSubmatch(line); p != nil {
				chains[current].Policy = p[1]
			}
		}
	}
	var base []nftChain
	for _, c := range chains {
		if c.Hook != "" {
			base = append(base, c)
		}
	}
	return base
}

// inputDrops checks that IPv4 and IPv6 input both pass a base chain whose
// policy is drop, and names those chains.
func inputDrops(chains []nftChain) ([]string, error) {
	var v4, v6 bool
	var dropping, seen []string
	for _, c := range chains {
		if c.Hook != "input" {
			continue
		}
		desc := fmt.Sprintf("%s %s %s (policy %s)", c.Family, c.Table, c.Name, c.Policy)
		seen = append(seen, desc)
		if c.Policy != "drop" {
			continue
		}
		dropping = append(dropping, desc)
		switch c.Family {
		case "inet":
			v4, v6 = true, true
		case "ip":
			v4 = true
		case "ip6":
			v6 = true
		}
	}
	if len(seen) == 0 {
		return nil, errors.New("no base chain hooks input: incoming traffic is not filtered, expected a chain with policy drop")
	}
	switch {
	case !v4 && !v6:
		return nil, fmt.Errorf("no input chain has policy drop, expected one; input chains: %s", strings.Join(seen, "; "))
	case !v4:
		return nil, fmt.Errorf("IPv4 input has no chain with policy drop (only %s)", strings.Join(dropping, "; "))
	case !v6:
		return nil, fmt.Errorf("IPv6 input has no chain with policy drop (only %s)", strings.Join(dropping, "; "))
	}
	return dropping, nil
}

func checkFirewallRules(ctx context.Context, m Machine) error {
	out, err := m.Run(ctx, "nft list ruleset")
	if err != nil {
		return err
	}
	dropping, err := inputDrops(parseNftChains(out))
	if err != nil {
		return err
	}
	m.Note("input drops by default in %s", strings.Join(dropping, "; "))
	return nil
}
