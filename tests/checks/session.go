package checks

import (
	"context"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Session is a machine's admin SSH connection, made on first use and made
// again once the guest has rebooted: what the harness's and the
// deployer's machines share.
type Session struct {
	// Dial logs in.
	Dial func(ctx context.Context) (*ssh.Client, error)

	mu     sync.Mutex
	client *ssh.Client
}

// Client is the connection, logging in if there is none.
func (s *Session) Client(ctx context.Context) (*ssh.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	c, err := s.Dial(ctx)
	if err != nil {
		return nil, err
	}
	s.client = c
	return c, nil
}

// Run runs a command as root; a connection the guest closed (it
// rebooted) is dropped, so the next command logs in again.
func (s *Session) Run(ctx context.Context, command string) (string, error) {
	c, err := s.Client(ctx)
	if err != nil {
		return "", err
	}
	out, err := RunSSH(ctx, c, command)
	if err != nil && strings.Contains(err.Error(), "EOF") {
		s.Close()
	}
	return out, err
}

// Close drops the connection.
func (s *Session) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
}
