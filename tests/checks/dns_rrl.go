package checks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/miekg/dns"
)

func init() {
	Default.Register(Check{Name: "dns.rrl", Summary: "the name server limits its UDP answers to one source (response-rate limiting): a burst gets truncated answers, TCP still answers, and the source is served again soon after",
		Timeout: 2 * time.Minute, Services: []string{"dns"}, Run: checkDNSRRL})
}

// rrlBurst is the number of queries of the burst: three times the zone's
// instant limit (provision/dns knot.conf), and few enough that an
// emulated guest answers them in about a second.
const rrlBurst = 150

// checkDNSRRL sends a burst of UDP queries from one address, as a
// reflection attack would make a victim's address do, and counts the
// answers: full ones stop past the limit, some come back truncated (the
// slip, which sends a real client to TCP), and once the burst is over the
// address is answered in full again.
func checkDNSRRL(ctx context.Context, m Machine) error {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	conn, err := m.DialUDP(ctx, 53)
	if err != nil {
		return err
	}
	defer conn.Close()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(site.Domain), dns.TypeSOA)
	q.RecursionDesired = false
	full, truncated := 0, 0
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := conn.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				done <- nil
				return
			}
			if err != nil {
				done <- err
				return
			}
			r := new(dns.Msg)
			if r.Unpack(buf[:n]) != nil {
				continue
			}
			if r.Truncated {
				truncated++
			} else {
				full++
			}
		}
	}()
	for i := 0; i < rrlBurst; i++ {
		q.Id = uint16(i + 1)
		b, err := q.Pack()
		if err != nil {
			return err
		}
		if _, err := conn.Write(b); err != nil {
			return fmt.Errorf("send query %d of the burst: %w", i+1, err)
		}
	}
	if err := <-done; err != nil {
		return fmt.Errorf("read the burst's answers: %w", err)
	}
	m.Note("a burst of %d UDP queries: %d full answers, %d truncated, %d unanswered", rrlBurst, full, truncated, rrlBurst-full-truncated)
	if full == 0 {
		return fmt.Errorf("no full answer to a burst of %d UDP queries: the name server does not answer", rrlBurst)
	}
	if full > rrlBurst/2 {
		return fmt.Errorf("%d of %d queries of a burst got a full answer: the name server has no response-rate limiting (Knot's mod-rrl), and amplifies attacks from spoofed addresses", full, rrlBurst)
	}
	if truncated == 0 {
		return fmt.Errorf("none of the limited answers came back truncated: without the slip, a real client behind a limited address gets no answer at all")
	}
	if _, err := dnsQuery(ctx, m, "tcp", site.Domain, dns.TypeSOA, false); err != nil {
		return fmt.Errorf("over TCP, which the limit leaves alone, right after the burst: %w", err)
	}
	// The limit is per second: the address is served again soon, over
	// UDP and TCP alike, every question the dns.* checks ask. (Knot's
	// limit on the time it spends on one address, off in knot.conf,
	// closed TCP connections for a while after such a burst under
	// emulation.)
	start := time.Now()
	for end := start.Add(30 * time.Second); ; time.Sleep(time.Second) {
		err := answersAgain(ctx, m, site.Domain)
		if err == nil {
			m.Note("served in full again over UDP and TCP %.0f s after the burst", time.Since(start).Seconds())
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("30 s after the burst, the address is still not served: %w", err)
		}
	}
}

// answersAgain asks SOA, NS, A and MX over UDP and over TCP.
func answersAgain(ctx context.Context, m Machine, domain string) error {
	for _, network := range []string{"udp", "tcp"} {
		for _, t := range []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeA, dns.TypeMX} {
			r, err := dnsQuery(ctx, m, network, domain, t, false)
			if err == nil {
				err = authoritative(r)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
