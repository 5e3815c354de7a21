package checks

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The name server: Knot answers for the domain on port 53, over UDP and
// TCP, with the records mail and certificates need, and signs the zone.
func init() {
	Default.Register(Check{Name: "dns.udp", Summary: "the name server answers SOA, NS, A and MX for the domain over UDP, authoritatively",
		Timeout: time.Minute, Services: []string{"dns"}, Run: func(ctx context.Context, m Machine) error { return checkDNSTransport(ctx, m, "udp") }})
	Default.Register(Check{Name: "dns.tcp", Summary: "the name server answers SOA, NS, A and MX for the domain over TCP, authoritatively",
		Timeout: time.Minute, Services: []string{"dns"}, Run: func(ctx context.Context, m Machine) error { return checkDNSTransport(ctx, m, "tcp") }})
	Default.Register(Check{Name: "dns.records", Summary: "the zone publishes SPF, MX, DKIM (matching the guest's key), DMARC and CAA records and every site name",
		Timeout: 2 * time.Minute, Services: []string{"dns"}, Run: checkDNSRecords})
	Default.Register(Check{Name: "dns.dnssec", Summary: "the zone is signed: DNSKEY at the apex, valid signatures on SOA and DNSKEY, signed denial of existence",
		Timeout: time.Minute, Services: []string{"dns"}, Run: checkDNSSEC})
}

// exchangeUDP asks over a datagram connection to the guest's port 53.
func exchangeUDP(ctx context.Context, m Machine, c *dns.Client, q *dns.Msg) (*dns.Msg, error) {
	conn, err := m.DialUDP(ctx, 53)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r, _, err := c.ExchangeWithConnContext(ctx, q, &dns.Conn{Conn: conn})
	return r, err
}

// dnsQuery asks the guest's name server one question, over "udp" or
// "tcp"; "auto" is UDP, then TCP when the answer was truncated. The
// question has EDNS0, with the DO bit when dnssec is set, and no
// recursion wanted.
func dnsQuery(ctx context.Context, m Machine, network, name string, qtype uint16, dnssec bool) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = false
	q.SetEdns0(1232, dnssec)
	what := fmt.Sprintf("%s %s", dns.TypeToString[qtype], dns.Fqdn(name))
	nets := []string{network}
	if network == "auto" {
		nets = []string{"udp", "tcp"}
	}
	var r *dns.Msg
	for _, n := range nets {
		addr := "the probe wire"
		var err error
		if n == "tcp" {
			if addr, err = m.Addr(53); err != nil {
				return nil, err
			}
		}
		c := &dns.Client{Net: n, Timeout: 10 * time.Second}
		// UDP may lose a datagram under a busy emulated guest: ask
		// again before giving up.
		tries := 1
		if n == "udp" {
			tries = 3
		}
		for i := 0; i < tries; i++ {
			if n == "udp" {
				r, err = exchangeUDP(ctx, m, c, q)
			} else {
				r, _, err = c.ExchangeContext(ctx, q, addr)
			}
			if err == nil || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("ask %s over %s at %s: %w", what, n, addr, err)
		}
		if !r.Truncated {
			break
		}
	}
	if r.Truncated {
		return nil, fmt.Errorf("%s over %s: the answer is truncated", what, network)
	}
	return r, nil
}

// authoritative checks that an answer is an authoritative NOERROR.
func authoritative(r *dns.Msg) error {
	what := "the answer"
	if len(r.Question) == 1 {
		what = fmt.Sprintf("the answer to %s %s", dns.TypeToString[r.Question[0].Qtype], r.Question[0].Name)
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("%s is %s, expected NOERROR", what, dns.RcodeToString[r.Rcode])
	}
	if !r.Authoritative {
		return fmt.Errorf("%s lacks the authoritative answer (AA) flag: the server does not serve the zone itself", what)
	}
	return nil
}

// answersOf lists the records of one type in an answer section.
func answersOf[T dns.RR](rrs []dns.RR) []T {
	var out []T
	for _, rr := range rrs {
		if t, ok := rr.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// rrsOfType lists the records of a type, as dns.RR, for signatures.
func rrsOfType(rrs []dns.RR, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}

// hasAddress checks that an answer holds the address want (A or AAAA,
// possibly behind a CNAME).
func hasAddress(r *dns.Msg, want string) error {
	ip := net.ParseIP(want)
	if ip == nil {
		return fmt.Errorf("site.json's address %q is not an IP address", want)
	}
	var seen []string
	for _, rr := range r.Answer {
		var got net.IP
		switch a := rr.(type) {
		case *dns.A:
			got = a.A
		case *dns.AAAA:
			got = a.AAAA
		default:
			continue
		}
		if got.Equal(ip) {
			return nil
		}
		seen = append(seen, got.String())
	}
	if len(seen) == 0 {
		return fmt.Errorf("no address, expected %s", want)
	}
	return fmt.Errorf("%s, expected %s", strings.Join(seen, ", "), want)
}

func checkDNSTransport(ctx context.Context, m Machine, network string) error {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	d := dns.Fqdn(site.Domain)
	ask := func(t uint16) (*dns.Msg, error) {
		r, err := dnsQuery(ctx, m, network, d, t, false)
		if err != nil {
			return nil, err
		}
		if err := authoritative(r); err != nil {
			return nil, fmt.Errorf("over %s, %w", network, err)
		}
		return r, nil
	}
	start := time.Now()
	r, err := ask(dns.TypeSOA)
	if err != nil {
		return err
	}
	m.Note("first answer over %s in %d ms", network, time.Since(start).Milliseconds())
	soa := answersOf[*dns.SOA](r.Answer)
	if len(soa) != 1 {
		return fmt.Errorf("SOA %s over %s: %d SOA records in the answer, expected 1", d, network, len(soa))
	}
	m.Note("SOA %s serial %d", soa[0].Ns, soa[0].Serial)

	if r, err = ask(dns.TypeNS); err != nil {
		return err
	}
	var ns []string
	for _, n := range answersOf[*dns.NS](r.Answer) {
		ns = append(ns, strings.ToLower(n.Ns))
	}
	if len(ns) == 0 {
		return fmt.Errorf("NS %s over %s: no NS record in the answer, expected at least one", d, network)
	}
	m.Note("NS %s", strings.Join(ns, " "))
	if err := nsMatches(ns, site); err != nil {
		return fmt.Errorf("NS %s over %s: %w", d, network, err)
	}

	if r, err = ask(dns.TypeA); err != nil {
		return err
	}
	if site.Address != "" {
		if err := hasAddress(r, site.Address); err != nil {
			return fmt.Errorf("A %s over %s: %w (site.json address)", d, network, err)
		}
	} else {
		m.Note("A %s: %d records (site.json has no address to compare)", d, len(answersOf[*dns.A](r.Answer)))
	}
	if site.Address6 != "" {
		if r, err = ask(dns.TypeAAAA); err != nil {
			return err
		}
		if err := hasAddress(r, site.Address6); err != nil {
			return fmt.Errorf("AAAA %s over %s: %w (site.json address6)", d, network, err)
		}
	}

	if r, err = ask(dns.TypeMX); err != nil {
		return err
	}
	mx := answersOf[*dns.MX](r.Answer)
	if len(mx) == 0 && site.Has("lists") {
		return fmt.Errorf("MX %s over %s: no MX record, expected one since the lists service is enabled", d, network)
	}
	for _, x := range mx {
		m.Note("MX %d %s", x.Preference, x.Mx)
	}
	return nil
}

// nsMatches compares the NS names served with site.json: the same set as
// its nameservers, or, when it lists none, names.ns among them.
func nsMatches(served []string, site Site) error {
	norm := func(names []string) []string {
		var out []string
		for _, n := range names {
			if n = strings.ToLower(dns.Fqdn(n)); !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out
	}
	got := norm(served)
	if len(site.Nameservers) > 0 {
		if want := norm(site.Nameservers); !slices.Equal(got, want) {
			return fmt.Errorf("%s, expected %s (site.json nameservers)", strings.Join(got, " "), strings.Join(want, " "))
		}
		return nil
	}
	if want := site.Names["ns"]; want != "" && !slices.Contains(got, strings.ToLower(dns.Fqdn(want))) {
		return fmt.Errorf("%s, expected %s among them (site.json names.ns)", strings.Join(got, " "), dns.Fqdn(want))
	}
	return nil
}
