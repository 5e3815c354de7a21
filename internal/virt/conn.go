// Package virt is ostal's one way to talk to libvirt, for the boot tests
// and the deployer alike: connecting with deadlines, typed domain, pool
// and volume XML, and the few operations ostal needs. It speaks libvirt's
// RPC protocol through go-libvirt: no cgo, no virsh.
package virt

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// DefaultURI is the local system libvirt.
const DefaultURI = "qemu:///system"

// Conn is a connection to one libvirt daemon.
type Conn struct {
	URI string
	l   *libvirt.Libvirt
}

// Dial connects to uri within ctx's deadline (ten seconds when it has
// none). go-libvirt's calls take no context, so Dial and every call of Conn
// enforce the deadline themselves: on cancellation the connection is
// closed, which ends the pending call.
func Dial(ctx context.Context, uri string) (*Conn, error) {
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
	l := libvirt.NewWithDialer(dialer)
	c := &Conn{URI: uri, l: l}
	err = c.call(ctx, "connect to "+uri, func() error { return l.ConnectToURI(libvirt.RemoteURI(u)) })
	if err != nil {
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
	}
	return nil, fmt.Errorf("libvirt URI %q: transport %q is not supported yet; use %s", u.String(), u.Scheme, DefaultURI)
}

// ConnectError is a libvirt daemon that could not be reached.
type ConnectError struct {
	URI string
	Err error
}

func (e *ConnectError) Error() string {
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
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
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
		c.l.Disconnect()
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
