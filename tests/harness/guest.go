package harness

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/internal/virt"
	"github.com/ostal/ostal/tests/checks"
)

// Guest is a booted test domain; it implements checks.Machine.
type Guest struct {
	conn      *virt.Conn
	spec      domainSpec
	image     string
	swapImage string
	domain    string
	roots     *x509.CertPool
	wire      *probeWire
	key       ssh.Signer
	keyPEM    []byte
	ready     time.Duration
	// Volumes for a swap: called with an image, it returns the overlay
	// volume to boot from.
	overlayFor func(ctx context.Context, image string) (string, error)
	// dataPath is the data volume's file on this host.
	dataPath     string
	readyTimeout time.Duration
	progress     func(format string, args ...any)

	started time.Time
	session checks.Session
	// acme relays the test CA to the guest (nil for an image without TLS).
	acme *acmeRelay

	mu    sync.Mutex
	notes []string
}

var _ checks.Machine = (*Guest)(nil)

func (g *Guest) Name() string              { return g.spec.Name }
func (g *Guest) AdminKey() []byte          { return g.keyPEM }
func (g *Guest) ImagePath() string         { return g.image }
func (g *Guest) SwapImage() string         { return g.swapImage }
func (g *Guest) ReadyAfter() time.Duration { return g.ready }

func (g *Guest) Domain() string           { return g.domain }
func (g *Guest) TLSRoots() *x509.CertPool { return g.roots }

// DialUDP is a datagram connection to the guest's UDP port, over the
// probe wire.
func (g *Guest) DialUDP(ctx context.Context, guestPort int) (net.Conn, error) {
	if g.wire == nil {
		return nil, errNoWire
	}
	return g.wire.Dial(guestPort), nil
}

// DialGuest opens a TCP connection from inside the guest, through SSH.
func (g *Guest) DialGuest(ctx context.Context, addr string) (net.Conn, error) {
	c, err := g.sshClient(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := c.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s inside the guest: %w", addr, err)
	}
	return conn, nil
}

func (g *Guest) Addr(guestPort int) (string, error) {
	host, ok := g.spec.Forwards[guestPort]
	if !ok {
		return "", fmt.Errorf("guest port %d is not forwarded; the forwarded ports are %v", guestPort, g.spec.Forwards)
	}
	return fmt.Sprintf("127.0.0.1:%d", host), nil
}

func (g *Guest) Console() string {
	b, _ := os.ReadFile(g.spec.SerialLog)
	return string(b)
}

func (g *Guest) Note(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.notes = append(g.notes, fmt.Sprintf(format, args...))
}

// takeNotes returns and clears the notes of the check that just ran.
func (g *Guest) takeNotes() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.notes
	g.notes = nil
	return n
}

// Run runs a command as root over SSH, logging in again if the guest
// rebooted since the last command.
func (g *Guest) Run(ctx context.Context, command string) (string, error) {
	return g.session.Run(ctx, command)
}

func (g *Guest) sshClient(ctx context.Context) (*ssh.Client, error) {
	return g.session.Client(ctx)
}

func (g *Guest) dropClient() {
	g.session.Close()
	g.acme.stop()
}

func (g *Guest) login(ctx context.Context) (*ssh.Client, error) {
	addr, err := g.Addr(22)
	if err != nil {
		return nil, err
	}
	return checks.Client(ctx, addr, "root", ssh.PublicKeys(g.key))
}

// define (re)defines the domain. Done as rarely as possible: some
// libvirt hosts probe QEMU again on every definition, which takes up to a
// minute; reboots and swaps reuse the definition.
func (g *Guest) define(ctx context.Context) error {
	t0 := time.Now()
	// libvirt refuses a second definition of a name with another UUID.
	if err := g.conn.Undefine(ctx, g.spec.Name); err != nil {
		return err
	}
	if err := g.conn.Define(ctx, domainXML(g.spec)); err != nil {
		return err
	}
	g.progress("  defined %s in %.1f s", g.spec.Name, time.Since(t0).Seconds())
	return nil
}

// boot starts the defined domain and waits for its readiness line.
func (g *Guest) boot(ctx context.Context) error {
	g.dropClient()
	for _, f := range []string{g.spec.ReadyFile, g.spec.SerialLog} {
		os.Remove(f)
	}
	g.started = time.Now()
	if err := g.conn.Start(ctx, g.spec.Name); err != nil {
		return err
	}
	g.progress("  started %s (%s, %s) in %.1f s; waiting for it to say it is ready",
		g.spec.Name, g.spec.Accel, g.spec.Firmware, time.Since(g.started).Seconds())
	return g.waitReadyAfterProbe(ctx)
}

// waitReadyAfterProbe waits for a guest already started. The test CA is
// relayed as soon as sshd lets the harness in, long before the guest says
// it is ready (multi-user): a machine in production reaches its CA from
// its first second, and the first boot's certificate should not wait for
// the end of the boot only because the relay rides on SSH.
func (g *Guest) waitReadyAfterProbe(ctx context.Context) error {
	if g.acme == nil {
		if err := g.waitReady(ctx, g.started); err != nil {
			return err
		}
		g.ready = time.Since(g.started)
		return nil
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan struct{})
	relayed := make(chan error, 1)
	go func() { relayed <- g.relayOnceSSH(rctx, ready) }()
	if err := g.waitReady(ctx, g.started); err != nil {
		return err
	}
	g.ready = time.Since(g.started)
	close(ready)
	// sshd listens by now: a relay that does not start within two
	// minutes will not (its SSH steps past the login have no deadline).
	select {
	case err := <-relayed:
		return err
	case <-time.After(2 * time.Minute):
		return errors.New("relay the test CA: the guest is ready but the relay did not start within 2 minutes")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// relayOnceSSH starts the CA relay at the first SSH login that works,
// trying every two seconds while the guest boots; once the guest is ready
// (sshd listens by then), a failure is final after three more tries.
func (g *Guest) relayOnceSSH(ctx context.Context, ready <-chan struct{}) error {
	afterReady := 0
	for {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := g.acme.start(actx, g.login)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ready:
			if afterReady++; afterReady > 3 {
				return err
			}
		default:
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

var readyLine = regexp.MustCompile(`ostal: (ready|not ready)[^\n]*`)

// waitReady waits for the guest's own word on the readiness channel; on a
// timeout it says what the guest was last doing.
func (g *Guest) waitReady(ctx context.Context, start time.Time) error {
	deadline := time.NewTimer(g.readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		b, _ := os.ReadFile(g.spec.ReadyFile)
		if m := readyLine.FindString(string(b)); m != "" {
			if strings.HasPrefix(m, "ostal: not ready") {
				return &BootError{Reason: m, Console: g.Console()}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return &BootError{Reason: fmt.Sprintf("the guest did not report ready within %s", g.readyTimeout), Console: g.Console()}
		case <-tick.C:
			if running, err := g.conn.Running(ctx, g.spec.Name); err == nil && !running {
				return &BootError{Reason: fmt.Sprintf("the guest stopped %s after start", time.Since(start).Round(time.Second)), Console: g.Console()}
			}
		}
	}
}

func (g *Guest) Reboot(ctx context.Context) error {
	if _, err := g.Shutdown(ctx); err != nil {
		return err
	}
	g.progress("  rebooting %s", g.spec.Name)
	return g.boot(ctx)
}

func (g *Guest) PowerCycle(ctx context.Context, offline func(ctx context.Context, dataVolume string) error) error {
	if g.dataPath == "" {
		return fmt.Errorf("%s has no data volume", g.spec.Name)
	}
	if _, err := os.Stat(g.dataPath); err != nil {
		return fmt.Errorf("the data volume is not a file on this host (libvirt at %s is remote?): %w", g.conn.URI, err)
	}
	if _, err := g.Shutdown(ctx); err != nil {
		return err
	}
	if err := offline(ctx, g.dataPath); err != nil {
		return fmt.Errorf("with %s powered off: %w", g.spec.Name, err)
	}
	g.progress("  starting %s again", g.spec.Name)
	return g.boot(ctx)
}

func (g *Guest) Swap(ctx context.Context, image string) error {
	if _, err := g.Shutdown(ctx); err != nil {
		return err
	}
	g.progress("  swapping to %s", image)
	// The overlay volume keeps its name and gets the new image beneath:
	// the domain's definition does not change.
	if _, err := g.overlayFor(ctx, image); err != nil {
		return err
	}
	g.image = image
	return g.boot(ctx)
}

func (g *Guest) Shutdown(ctx context.Context) (time.Duration, error) {
	g.dropClient()
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	d, err := g.conn.Shutdown(sctx, g.spec.Name)
	if err == nil {
		g.progress("  %s powered off in %.1f s", g.spec.Name, d.Seconds())
	}
	return d, err
}

// BootError is a guest that never became ready: the reason and what its
// console said last.
type BootError struct {
	Reason  string
	Console string
}

func (e *BootError) Error() string {
	var failed []string
	for _, m := range failedUnit.FindAllStringSubmatch(e.Console, -1) {
		failed = append(failed, m[1])
	}
	msg := e.Reason
	if m := kernelTrouble.FindString(e.Console); m != "" {
		msg += "; the kernel says: " + strings.TrimSpace(m)
	}
	if len(failed) > 0 {
		msg += "; failed units: " + strings.Join(failed, ", ")
	}
	return msg + "\nlast lines of the serial console:\n" + indent(tail(e.Console, 25))
}

var (
	failedUnit    = regexp.MustCompile(`Failed to start ([^\s]+)`)
	kernelTrouble = regexp.MustCompile(`(Kernel panic|Oops:|BUG: )[^\n]*`)
)

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }
