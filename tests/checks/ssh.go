package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Client logs in to a machine's sshd with an auth method; the harness uses
// it with the admin key, checks use it to prove other logins fail.
func Client(ctx context.Context, addr, user string, auth ssh.AuthMethod) (*ssh.Client, error) {
	d := net.Dialer{Timeout: 15 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to sshd at %s: %w", addr, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{auth},
		// The test guest's host key is made on its first boot; the
		// address is a forward on 127.0.0.1 that only this run uses.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         15 * time.Second,
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("log in to %s as %s: %w", addr, user, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(cc, chans, reqs), nil
}

// RunSSH runs one command on a client and returns its standard output;
// the error carries standard error.
func RunSSH(ctx context.Context, c *ssh.Client, command string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", fmt.Errorf("open ssh session: %w", err)
	}
	defer s.Close()
	var out, errOut strings.Builder
	s.Stdout, s.Stderr = &out, &errOut
	done := make(chan error, 1)
	go func() { done <- s.Run(command) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		s.Signal(ssh.SIGKILL)
		return out.String(), fmt.Errorf("%q: %w", command, ctx.Err())
	}
	if err != nil {
		var exit *ssh.ExitError
		if errors.As(err, &exit) {
			return out.String(), fmt.Errorf("%q exited %d: %s", command, exit.ExitStatus(), strings.TrimSpace(errOut.String()))
		}
		return out.String(), fmt.Errorf("%q: %w", command, err)
	}
	return out.String(), nil
}
