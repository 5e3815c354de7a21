package deploy

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ostal/ostal/provision"
)

// tunnels reach a candidate's public ports, which its firewall keeps shut
// to the world until the swap is committed (provision/firewall's
// public-ports), through the deployer's SSH session: each is a listener
// on the deployer's loopback whose connections the guest's sshd opens to
// the guest's own address. The guest sees them come from that address,
// not from its loopback, so Postfix still treats the checks as outsiders
// (its mynetworks is the loopback only).
type tunnels struct {
	g *guest

	mu     sync.Mutex
	self   string // the guest's address, as its sshd answers us on it
	ports  map[int]net.Listener
	closed bool // after close, no tunnel is made that nothing would end
}

// isPublic tells whether the firewall shuts port on a candidate.
func isPublic(port int) bool { return slices.Contains(provision.PublicTCPPorts, port) }

// addr is the loopback address that reaches the guest's port.
func (t *tunnels) addr(port int) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ln, ok := t.ports[port]; ok {
		return ln.Addr().String(), nil
	}
	if t.closed {
		return "", fmt.Errorf("the SSH tunnels to the guest are closed: its health wait is over")
	}
	if t.self == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := t.g.Run(ctx, `set -- $SSH_CONNECTION; echo "$3"`)
		if err != nil {
			return "", fmt.Errorf("ask the guest its address, to reach its port %d through SSH: %w", port, err)
		}
		if t.self = strings.TrimSpace(out); net.ParseIP(t.self) == nil {
			return "", fmt.Errorf("the guest does not say on which address it answers SSH (SSH_CONNECTION gives %q)", out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen on the loopback for a tunnel to the guest's port %d: %w", port, err)
	}
	if t.ports == nil {
		t.ports = map[int]net.Listener{}
	}
	t.ports[port] = ln
	go t.serve(ln, net.JoinHostPort(t.self, strconv.Itoa(port)))
	return ln.Addr().String(), nil
}

// serve carries each connection to remote, as the guest sees it.
func (t *tunnels) serve(ln net.Listener, remote string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		go func() {
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			r, err := t.g.DialGuest(ctx, remote)
			cancel()
			if err != nil {
				return // the check sees the connection close, and says so
			}
			defer r.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(r, c); done <- struct{}{} }()
			go func() { io.Copy(c, r); done <- struct{}{} }()
			<-done
		}()
	}
}

// close ends every tunnel.
func (t *tunnels) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ln := range t.ports {
		ln.Close()
	}
	t.ports, t.closed = nil, true
}
