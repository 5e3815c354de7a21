package deploy_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// deliver hands one line to the guest's test inbox through its public
// port, as a mail from outside: the inbox's reply ("250 accepted" once
// the line is on the data volume), or what went wrong.
func deliver(e envFile, line string) (string, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.SMTPPort), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	greeting, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("no greeting: %w", err)
	}
	if !strings.HasPrefix(greeting, "220 ") {
		return "", fmt.Errorf("greeting %q", greeting)
	}
	if _, err := fmt.Fprintf(c, "%s\r\n", line); err != nil {
		return "", err
	}
	reply, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("no reply: %w", err)
	}
	return strings.TrimSpace(reply), nil
}

func mustDeliver(t *testing.T, e envFile, line string) {
	t.Helper()
	if reply, err := deliver(e, line); err != nil || reply != "250 accepted" {
		t.Fatalf("a mail from outside to the serving guest: %q, %v", reply, err)
	}
}

// public is the outside world while a swap runs: it tries to deliver a
// line every few seconds, and notes when the swap's candidate was up
// (its sshd answers, booted with the candidate credential, the inbox
// listening) when it tried.
type public struct {
	e    envFile
	stop chan struct{}
	done sync.WaitGroup

	mu sync.Mutex
	// accepted are the lines the guest said it had kept.
	accepted []string
	// whileCandidate counts the tries made while the candidate was up.
	whileCandidate int
}

func startPublic(t *testing.T, e envFile) *public {
	p := &public{e: e, stop: make(chan struct{})}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		for i := 0; ; i++ {
			up, _ := guestRun(t, e, "test -e /run/credentials/@system/ostal.candidate && systemctl is-active --quiet ostal-test-inbox.socket && echo up")
			line := fmt.Sprintf("mail %d from outside during the swap", i)
			reply, _ := deliver(e, line)
			p.mu.Lock()
			if strings.TrimSpace(up) == "up" {
				p.whileCandidate++
			}
			if reply == "250 accepted" {
				p.accepted = append(p.accepted, line)
			}
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-time.After(3 * time.Second):
			}
		}
	}()
	return p
}

func (p *public) end() {
	close(p.stop)
	p.done.Wait()
}
