// Package virt is ostal's one way to talk to libvirt, for the boot tests
// and the deployer alike: connecting with deadlines, typed domain, pool
// and volume XML, and the few operations ostal needs. It speaks libvirt's
// RPC protocol through go-libvirt: no cgo, no virsh.
package virt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// CallTimeout bounds a libvirt call whose caller set no deadline.
const CallTimeout = 5 * time.Minute

// DefaultURI is the local system libvirt.
const DefaultURI = "qemu:///system"

// Conn is a connection to one libvirt daemon.
type Conn struct {
	URI  string
	l    *libvirt.Libvirt
	wrap func(net.Conn) net.Conn
}

// Dial connects to uri within ctx's deadline (ten seconds when it has
// none). go-libvirt's calls take no context, so Dial and every call of Conn
// enforce the deadline themselves: on cancellation the connection is
// closed, which ends the pending call.
func Dial(ctx context.Context, uri string) (*Conn, error) {
	return DialWith(ctx, uri, nil)
}

// DialWith is Dial with every network connection passed through wrap: the
// tests' way to make a real connection fail half-way.
func DialWith(ctx context.Context, uri string, wrap func(net.Conn) net.Conn) (*Conn, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("libvirt URI %q: %w", uri, err)
	}
	dialer, err := dialerFor(ctx, u)
	if err != nil {
		return nil, err
	}
	if wrap != nil {
		dialer = wrappedDialer{dialer, wrap}
	}
	l := libvirt.NewWithDialer(dialer)
	c := &Conn{URI: uri, l: l, wrap: wrap}
	err = c.call(ctx, "connect", func() error { return l.ConnectToURI(libvirt.RemoteURI(u)) })
	if err != nil {
		go l.Disconnect()
		return nil, &ConnectError{URI: uri, Err: err}
	}
	return c, nil
}

func dialerFor(ctx context.Context, u *url.URL) (socket.Dialer, error) {
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	switch u.Scheme {
	case "qemu", "qemu+unix":
		opts := []dialers.LocalOption{dialers.WithLocalTimeout(timeout)}
		if s := u.Query().Get("socket"); s != "" {
			opts = append(opts, dialers.WithSocket(s))
		}
		return dialers.NewLocal(opts...), nil
	case "qemu+ssh":
		return sshDialer(u, timeout)
	case "qemu+tls":
		opts := []dialers.TLSOption{dialers.UseTLSPort(u.Port())}
		if p := u.Query().Get("pkipath"); p != "" {
			opts = append(opts, dialers.UsePKIPath(p))
		}
		if u.Query().Get("no_verify") == "1" {
			opts = append(opts, dialers.WithInsecureNoVerify())
		}
		return dialers.NewTLS(u.Hostname(), opts...), nil
	}
	return nil, fmt.Errorf("libvirt URI %q: transport %q is not supported; use qemu:///system, qemu+ssh://user@host/system or qemu+tls://host/system", u.String(), u.Scheme)
}

// sshDialer reaches the remote daemon's socket through SSH, authenticated
// by the agent or the URI's keyfile, the host checked against the URI's
// known_hosts (libvirt's own query parameters) or ~/.ssh/known_hosts.
func sshDialer(u *url.URL, timeout time.Duration) (socket.Dialer, error) {
	if u.Hostname() == "" {
		return nil, fmt.Errorf("libvirt URI %q names no host; write qemu+ssh://root@HOST/system", u.String())
	}
	q := u.Query()
	opts := []dialers.SSHOption{dialers.UseSSHUsername(u.User.Username()), dialers.UseSSHPort(u.Port())}
	if k := q.Get("keyfile"); k != "" {
		opts = append(opts, dialers.UseKeyFile(k))
	}
	known := q.Get("known_hosts")
	if known == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("libvirt URI %q: no known_hosts given and no home directory: %w", u.String(), err)
		}
		known = filepath.Join(home, ".ssh", "known_hosts")
	}
	opts = append(opts, dialers.UseKnownHostsFile(known))
	if s := q.Get("socket"); s != "" {
		opts = append(opts, dialers.WithRemoteSocket(s))
	}
	return timedDialer{dialers.NewSSH(u.Hostname(), opts...), timeout}, nil
}

// timedDialer bounds a dialer that has no timeout option of its own.
type timedDialer struct {
	d       socket.Dialer
	timeout time.Duration
}

func (t timedDialer) Dial() (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := t.d.Dial()
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		return r.c, r.err
	case <-time.After(t.timeout):
		go func() {
			if r := <-done; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, fmt.Errorf("no answer within %s", t.timeout.Round(time.Second))
	}
}

type wrappedDialer struct {
	d    socket.Dialer
	wrap func(net.Conn) net.Conn
}

func (w wrappedDialer) Dial() (net.Conn, error) {
	c, err := w.d.Dial()
	if err != nil {
		return nil, err
	}
	return w.wrap(c), nil
}

// ConnectError is a libvirt daemon that could not be reached.
type ConnectError struct {
	URI string
	Err error
}

func (e *ConnectError) Error() string {
	if u, err := url.Parse(e.URI); err == nil && u.Host != "" {
		return fmt.Sprintf("cannot connect to libvirt at %s: %v; check the host name and port, that it runs libvirtd, "+
			"that your SSH key (the agent, or ?keyfile=PATH in the URI) is accepted for user %q there, and that the host's key "+
			"is in known_hosts (~/.ssh/known_hosts, or ?known_hosts=PATH)", e.URI, e.Err, u.User.Username())
	}
	return fmt.Sprintf("cannot connect to libvirt at %s: %v; is libvirtd running? Start it with `virtlogd -d && libvirtd -d` "+
		"(or `systemctl start libvirtd`), or pass another --uri", e.URI, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Close ends the connection.
func (c *Conn) Close() error {
	if err := c.l.Disconnect(); err != nil {
		return fmt.Errorf("disconnect from %s: %w", c.URI, err)
	}
	return nil
}

// call runs one libvirt call and gives up when ctx ends, closing the
// connection so the call does not outlive it. Errors say what was tried.
func (c *Conn) call(ctx context.Context, op string, f func() error) error {
	return c.callWithin(ctx, CallTimeout, op, f)
}

// callWithin is call with another bound than CallTimeout when ctx has no
// deadline; 0 for none (streams, which watch their own progress).
func (c *Conn) callWithin(ctx context.Context, bound time.Duration, op string, f func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// No libvirt call of ostal's takes minutes, but one whose answer never
	// comes (a stuck daemon, a dead link without a reset) would otherwise
	// hang the command for good: past the bound, the link is taken for
	// dead and closed.
	parent := ctx
	if _, ok := ctx.Deadline(); !ok && bound > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, bound)
		defer cancel()
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return nil
	case <-ctx.Done():
		// The caller gave up on this call: it is abandoned (its answer, if
		// any, is dropped) but the connection stays for what comes next, a
		// rollback for one. Only a call past ostal's own bound closes it,
		// in the background: go-libvirt's goodbye waits for an answer too.
		if parent.Err() == nil {
			go c.l.Disconnect()
		}
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
}

// IsNotFound reports a domain, pool or volume that does not exist.
func IsNotFound(err error) bool {
	var lerr libvirt.Error
	if !errors.As(err, &lerr) {
		return false
	}
	switch libvirt.ErrorNumber(lerr.Code) {
	case libvirt.ErrNoDomain, libvirt.ErrNoStoragePool, libvirt.ErrNoStorageVol:
		return true
	}
	return false
}

// IsExists reports a volume that was not created because its pool has
// one of that name already: libvirt checks and adds the name under the
// pool's lock, so of two creators exactly one gets no such error.
func IsExists(err error) bool {
	var lerr libvirt.Error
	return errors.As(err, &lerr) && libvirt.ErrorNumber(lerr.Code) == libvirt.ErrStorageVolExist
}
