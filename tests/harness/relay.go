package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"

	"golang.org/x/crypto/ssh"
)

// acmeRelay gives the guest its test CA at 127.0.0.1:AcmePort inside the
// guest: sshd listens there (remote forwarding on an SSH connection of
// the relay's own), and each connection the guest makes is a channel of
// its own to the CA on the host. QEMU's guestfwd, which did this before,
// carries a single TCP stream for every connection of the guest, and
// lego opens several at once (it fetches the authorizations in
// parallel): the streams mixed and the CA stopped answering, so a boot
// kept its placeholder certificate. The guest's user network still
// sends nothing to the host.
type acmeRelay struct {
	ca string // the CA's host address

	mu     sync.Mutex
	client *ssh.Client
}

// start opens the relay on a freshly booted guest, then asks the guest to
// try ACME again at once: its first tries came before the relay.
func (r *acmeRelay) start(ctx context.Context, login func(context.Context) (*ssh.Client, error)) error {
	r.stop()
	c, err := login(ctx)
	if err != nil {
		return fmt.Errorf("relay the test CA: %w", err)
	}
	l, err := c.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", AcmePort))
	if err != nil {
		c.Close()
		return fmt.Errorf("relay the test CA: sshd in the guest does not listen on port %d for it: %w", AcmePort, err)
	}
	r.mu.Lock()
	r.client = c
	r.mu.Unlock()
	go r.serve(l)
	s, err := c.NewSession()
	if err != nil {
		return fmt.Errorf("relay the test CA: %w", err)
	}
	defer s.Close()
	if out, err := s.CombinedOutput("systemctl start --no-block ostal-acme.service"); err != nil {
		return fmt.Errorf("relay the test CA: start ostal-acme: %w: %s", err, out)
	}
	return nil
}

func (r *acmeRelay) serve(l net.Listener) {
	for {
		in, err := l.Accept()
		if err != nil {
			return // the guest went down, or stop
		}
		go func() {
			defer in.Close()
			out, err := net.Dial("tcp", r.ca)
			if err != nil {
				return
			}
			defer out.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(out, in); done <- struct{}{} }()
			go func() { io.Copy(in, out); done <- struct{}{} }()
			<-done
		}()
	}
}

// stop ends the relay's connection, and with it the guest's listener.
func (r *acmeRelay) stop() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		r.client.Close()
		r.client = nil
	}
}
