package deploy

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/tests/checks"
)

// guest is the deployed domain as the named checks see it: reached from
// the deployer's side, over the network the environment describes, with
// the deployer's key.
type guest struct {
	env     *Environment
	name    string
	domain  string // the DNS domain the image serves
	image   string
	keyPEM  []byte
	signer  ssh.Signer
	roots   *x509.CertPool
	hostKey func(string, net.Addr, ssh.PublicKey) error
	ready   time.Duration
	// learntKey is the host key seen on a first deployment, to pin.
	learntKey string

	// candidate: the guest is a swap's candidate, whose firewall shuts
	// the public ports until the commit; the checks reach them through
	// tunnels.
	candidate bool
	tunnels   tunnels

	session checks.Session
	mu      sync.Mutex
	notes   []string
}

var _ checks.Machine = (*guest)(nil)

func (g *guest) Name() string              { return g.name }
func (g *guest) Domain() string            { return g.domain }
func (g *guest) TLSRoots() *x509.CertPool  { return g.roots }
func (g *guest) AdminKey() []byte          { return g.keyPEM }
func (g *guest) Console() string           { return "" }
func (g *guest) ImagePath() string         { return g.image }
func (g *guest) ReadyAfter() time.Duration { return g.ready }
func (g *guest) SwapImage() string         { return "" }

func (g *guest) Note(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.notes = append(g.notes, fmt.Sprintf(format, args...))
}

// Addr is where the deployer reaches a guest port: a forward on the
// deployer's host in user mode, the guest's own address on a bridge; a
// candidate's public ports through the SSH session.
func (g *guest) Addr(port int) (string, error) {
	if g.candidate && isPublic(port) {
		return g.tunnels.addr(port)
	}
	if g.env.Network.Mode == "user" {
		host, ok := g.env.Network.Forwards[port]
		if !ok {
			return "", fmt.Errorf("%s: network.forwards has no forward for guest port %d", g.env.Path, port)
		}
		return net.JoinHostPort(g.env.Health.Address, strconv.Itoa(host)), nil
	}
	return net.JoinHostPort(g.env.Health.Address, strconv.Itoa(port)), nil
}

func (g *guest) DialUDP(ctx context.Context, port int) (net.Conn, error) {
	addr, err := g.Addr(port)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, "udp", addr)
}

func (g *guest) DialGuest(ctx context.Context, addr string) (net.Conn, error) {
	c, err := g.session.Client(ctx)
	if err != nil {
		return nil, err
	}
	return c.Dial("tcp", addr)
}

func (g *guest) Run(ctx context.Context, command string) (string, error) {
	return g.session.Run(ctx, command)
}

// close ends the tunnels and the session.
func (g *guest) close() {
	g.tunnels.close()
	g.session.Close()
}

// login opens the admin session, the guest's host key checked by hostKey.
func (g *guest) login(ctx context.Context) (*ssh.Client, error) {
	addr, err := g.Addr(22)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 15 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to the guest's sshd at %s: %w", addr, err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(g.signer)}, HostKeyCallback: g.hostKey, Timeout: 15 * time.Second,
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("log in to the guest at %s as root with %s: %w", addr, g.env.Health.SSHKey, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(cc, chans, reqs), nil
}

func (g *guest) Reboot(context.Context) error { return errDisruptive }
func (g *guest) Swap(context.Context, string) error {
	return errDisruptive
}
func (g *guest) Shutdown(context.Context) (time.Duration, error) { return 0, errDisruptive }
func (g *guest) PowerCycle(context.Context, func(context.Context, string) error) error {
	return errDisruptive
}

var errDisruptive = fmt.Errorf("a deployed guest is not rebooted, swapped or stopped by a check; leave disruptive checks out of health.checks")

// deployerKey reads the deployer's private key.
func deployerKey(env *Environment) (ssh.Signer, []byte, error) {
	if env.Health.SSHKey == "" {
		return nil, nil, fmt.Errorf("%s: health.ssh_key: not set; name the private key ostal logs in to the guest with (its public half is authorized there)", env.Path)
	}
	b, err := os.ReadFile(env.Health.SSHKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: health.ssh_key: %w", env.Path, err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: health.ssh_key: %s is not an unencrypted OpenSSH private key: %w", env.Path, env.Health.SSHKey, err)
	}
	return s, b, nil
}
