package checks

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The name server: Knot answers for the domain on port 53, over UDP and
// TCP, with the records mail and certificates need, and signs the zone.
func init() {
	Default.Register(Check{Name: "dns.udp", Summary: "the name server answers SOA, NS, A and MX for the domain over UDP, authoritatively",
		Timeout: time.Minute, Run: func(ctx context.Context, m Machine) error { return checkDNSTransport(ctx, m, "udp") }})
	Default.Register(Check{Name: "dns.tcp", Summary: "the name server answers SOA, NS, A and MX for the domain over TCP, authoritatively",
		Timeout: time.Minute, Run: func(ctx context.Context, m Machine) error { return checkDNSTransport(ctx, m, "tcp") }})
	Default.Register(Check{Name: "dns.records", Summary: "the zone publishes SPF, MX, DKIM (matching the guest's key), DMARC and CAA records and every site name",
		Timeout: 2 * time.Minute, Run: checkDNSRecords})
	Default.Register(Check{Name: "dns.dnssec", Summary: "the zone is signed: DNSKEY at the apex, valid signatures on SOA and DNSKEY, signed denial of existence",
		Timeout: time.Minute, Run: checkDNSSEC})
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

// txtStrings lists the TXT records of an answer, each one's strings
// joined as RFC 7208 says.
func txtStrings(r *dns.Msg) []string {
	var out []string
	for _, t := range answersOf[*dns.TXT](r.Answer) {
		out = append(out, strings.Join(t.Txt, ""))
	}
	return out
}

// spfRecord picks the one SPF record among TXT records: none or several
// is an error (several is a permanent error for receivers).
func spfRecord(txts []string) (string, error) {
	var spf []string
	for _, t := range txts {
		if l := strings.ToLower(t); l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ") {
			spf = append(spf, t)
		}
	}
	switch len(spf) {
	case 1:
		return spf[0], nil
	case 0:
		return "", fmt.Errorf("no TXT record starting \"v=spf1\" (TXT records: %q)", txts)
	}
	return "", fmt.Errorf("%d SPF records %q, expected exactly one", len(spf), spf)
}

// dmarcRecord picks the one DMARC record among TXT records; it must start
// with v=DMARC1 and carry a policy.
func dmarcRecord(txts []string) (policy string, err error) {
	var found []string
	for _, t := range txts {
		if strings.HasPrefix(strings.TrimSpace(t), "v=DMARC1") {
			found = append(found, t)
		}
	}
	switch {
	case len(found) == 0:
		return "", fmt.Errorf("no TXT record starting \"v=DMARC1\" (TXT records: %q)", txts)
	case len(found) > 1:
		return "", fmt.Errorf("%d DMARC records %q, expected exactly one", len(found), found)
	}
	tags := parseTags(found[0])
	if tags["v"] != "DMARC1" {
		return "", fmt.Errorf("DMARC record %q: its first tag is not v=DMARC1", found[0])
	}
	p, ok := tags["p"]
	if !ok || !slices.Contains([]string{"none", "quarantine", "reject"}, strings.ToLower(p)) {
		return "", fmt.Errorf("DMARC record %q: p=%q, expected none, quarantine or reject", found[0], p)
	}
	return p, nil
}

// parseTags reads a DKIM or DMARC tag list ("v=DKIM1; k=rsa; p=MIIB...").
// Whitespace inside values is dropped, as RFC 6376 allows around base64.
func parseTags(s string) map[string]string {
	tags := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, dup := tags[k]; k == "" || dup {
			continue
		}
		tags[k] = strings.Join(strings.Fields(v), "")
	}
	return tags
}

// dkimKey checks a selector's DKIM records against the key the guest
// signs with (its base64 p= value) and describes the key.
func dkimKey(txts []string, want string) (string, error) {
	want = strings.Join(strings.Fields(want), "")
	if want == "" {
		return "", errors.New("the guest printed no DKIM public key")
	}
	var dkim []map[string]string
	for _, t := range txts {
		tags := parseTags(t)
		if _, ok := tags["p"]; ok {
			dkim = append(dkim, tags)
		}
	}
	if len(dkim) != 1 {
		return "", fmt.Errorf("%d TXT records with a p= tag, expected one DKIM key record (TXT records: %q)", len(dkim), txts)
	}
	tags := dkim[0]
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return "", fmt.Errorf("the DKIM record has v=%s, expected DKIM1", v)
	}
	got := tags["p"]
	if got != want {
		return "", fmt.Errorf("the published key p= differs from the guest's key: %s", keyDiff(got, want))
	}
	raw, err := base64.StdEncoding.DecodeString(got)
	if err != nil {
		return "", fmt.Errorf("the DKIM key p= is not base64: %v", err)
	}
	kind := strings.ToLower(tags["k"])
	if kind == "ed25519" {
		if len(raw) != 32 {
			return "", fmt.Errorf("the ed25519 DKIM key is %d bytes, expected 32", len(raw))
		}
		return "ed25519", nil
	}
	pub, err := x509.ParsePKIXPublicKey(raw)
	if err != nil {
		return "", fmt.Errorf("the DKIM key (k=%s) is not a public key: %v", kind, err)
	}
	if k, ok := pub.(interface{ Size() int }); ok {
		return fmt.Sprintf("%s %d-bit", keyAlgorithm(pub), k.Size()*8), nil
	}
	return keyAlgorithm(pub), nil
}

// keyDiff says how two base64 keys differ: their lengths and the text
// around the first difference (every RSA key starts alike).
func keyDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	around := func(s string) string {
		from := max(i-4, 0)
		return "…" + clip(s[from:], 16)
	}
	return fmt.Sprintf("%d characters, expected %d; from character %d: %q, expected %q", len(got), len(want), i, around(got), around(want))
}

func keyAlgorithm(pub any) string {
	name := fmt.Sprintf("%T", pub)
	switch {
	case strings.Contains(name, "rsa"):
		return "RSA"
	case strings.Contains(name, "ed25519"):
		return "ed25519"
	case strings.Contains(name, "ecdsa"):
		return "ECDSA"
	}
	return name
}

// mxTargets checks that every MX of an answer points to a host inside
// the domain, and that there is at least one.
func mxTargets(r *dns.Msg, domain string) ([]string, error) {
	mx := answersOf[*dns.MX](r.Answer)
	if len(mx) == 0 {
		return nil, errors.New("no MX record, expected one pointing into the domain")
	}
	var out []string
	for _, x := range mx {
		if x.Mx == "." {
			return nil, errors.New("a null MX (\".\"): the domain refuses mail")
		}
		if !dns.IsSubDomain(dns.Fqdn(domain), x.Mx) {
			return nil, fmt.Errorf("MX %d %s points outside %s", x.Preference, x.Mx, dns.Fqdn(domain))
		}
		out = append(out, fmt.Sprintf("%d %s", x.Preference, x.Mx))
	}
	return out, nil
}

// caaIssue lists the CAs an answer's CAA records let issue certificates.
func caaIssue(r *dns.Msg) ([]string, error) {
	var issuers, tags []string
	for _, c := range answersOf[*dns.CAA](r.Answer) {
		tags = append(tags, c.Tag)
		if strings.EqualFold(c.Tag, "issue") {
			issuers = append(issuers, c.Value)
		}
	}
	if len(issuers) == 0 {
		return nil, fmt.Errorf("no CAA record with the issue tag (tags seen: %q)", tags)
	}
	return issuers, nil
}

var selectorLabel = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

func checkDNSRecords(ctx context.Context, m Machine) error {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	d := dns.Fqdn(site.Domain)
	ask := func(name string, t uint16) (*dns.Msg, error) {
		r, err := dnsQuery(ctx, m, "auto", name, t, false)
		if err != nil {
			return nil, err
		}
		return r, authoritative(r)
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// SPF, at the apex and at the lists' mail domain.
	spfNames := []string{d}
	if lists := site.Names["lists"]; lists != "" && site.Has("lists") {
		spfNames = append(spfNames, dns.Fqdn(lists))
	}
	for _, name := range spfNames {
		r, err := ask(name, dns.TypeTXT)
		if err != nil {
			return err
		}
		if spf, err := spfRecord(txtStrings(r)); err != nil {
			fail("TXT %s: %v", name, err)
		} else {
			m.Note("SPF %s %q", name, spf)
		}
	}

	// MX at the apex, and at the lists' name when it has one.
	r, err := ask(d, dns.TypeMX)
	if err != nil {
		return err
	}
	if mx, err := mxTargets(r, d); err != nil {
		fail("MX %s: %v", d, err)
	} else {
		m.Note("MX %s %s", d, strings.Join(mx, ", "))
	}
	if lists := site.Names["lists"]; lists != "" && site.Has("lists") {
		r, err := ask(lists, dns.TypeMX)
		if err != nil {
			return err
		}
		if len(answersOf[*dns.MX](r.Answer)) == 0 {
			m.Note("MX %s: none, mail for it goes to its address", dns.Fqdn(lists))
		} else if mx, err := mxTargets(r, d); err != nil {
			fail("MX %s: %v", dns.Fqdn(lists), err)
		} else {
			m.Note("MX %s %s", dns.Fqdn(lists), strings.Join(mx, ", "))
		}
	}

	// DKIM: the published key is the one the guest signs with. Only
	// the lists service sends mail, and makes the key.
	if site.Has("lists") {
		if err := checkDKIM(ctx, m, d, ask, fail); err != nil {
			return err
		}
	} else {
		m.Note("no DKIM record checked: the lists service, which signs mail, is not enabled")
	}

	// DMARC.
	if r, err = ask("_dmarc."+d, dns.TypeTXT); err != nil {
		return err
	}
	if p, err := dmarcRecord(txtStrings(r)); err != nil {
		fail("TXT _dmarc.%s: %v", d, err)
	} else {
		m.Note("DMARC policy %s", p)
	}

	// CAA.
	if r, err = ask(d, dns.TypeCAA); err != nil {
		return err
	}
	if issuers, err := caaIssue(r); err != nil {
		fail("CAA %s: %v", d, err)
	} else {
		m.Note("CAA issue %s", strings.Join(issuers, ", "))
	}

	// Every site name resolves to the guest.
	for _, role := range slices.Sorted(maps.Keys(site.Names)) {
		name := dns.Fqdn(site.Names[role])
		for _, want := range []struct {
			t    uint16
			addr string
		}{{dns.TypeA, site.Address}, {dns.TypeAAAA, site.Address6}} {
			if want.addr == "" {
				continue
			}
			r, err := ask(name, want.t)
			if err != nil {
				return err
			}
			if err := hasAddress(r, want.addr); err != nil {
				fail("%s %s (%s): %v", dns.TypeToString[want.t], name, role, err)
			}
		}
	}
	if site.Address == "" && site.Address6 == "" {
		m.Note("site.json has no address: the site names' addresses were not compared")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func checkDKIM(ctx context.Context, m Machine, d string, ask func(string, uint16) (*dns.Msg, error), fail func(string, ...any)) error {
	out, err := m.Run(ctx, "cat /etc/ostal/dkim-selector")
	if err != nil {
		return fmt.Errorf("read the DKIM selector: %w", err)
	}
	selector := strings.TrimSpace(out)
	if !selectorLabel.MatchString(selector) {
		return fmt.Errorf("/etc/ostal/dkim-selector holds %q, expected a DNS label such as \"utzqanil\"", clip(selector, 60))
	}
	pub, err := m.Run(ctx, "/usr/lib/ostal/dkim-public")
	if err != nil {
		return fmt.Errorf("read the guest's DKIM public key: %w", err)
	}
	name := selector + "._domainkey." + d
	r, err := ask(name, dns.TypeTXT)
	if err != nil {
		return err
	}
	if key, err := dkimKey(txtStrings(r), pub); err != nil {
		fail("TXT %s: %v", name, err)
	} else {
		m.Note("DKIM %s: %s key, matches the guest's", name, key)
	}
	return nil
}

// signedBy verifies the signatures over every RRset of type t in a
// section (one per owner name: NSEC records deny with several) with the
// zone's keys: each RRset needs one that verifies and is valid at when.
// It returns the verifying keys' tags.
func signedBy(section []dns.RR, t uint16, keys []*dns.DNSKEY, when time.Time) ([]uint16, error) {
	var owners []string
	sets := map[string][]dns.RR{}
	for _, rr := range rrsOfType(section, t) {
		o := strings.ToLower(rr.Header().Name)
		if _, ok := sets[o]; !ok {
			owners = append(owners, o)
		}
		sets[o] = append(sets[o], rr)
	}
	if len(owners) == 0 {
		return nil, fmt.Errorf("no %s record in the answer", dns.TypeToString[t])
	}
	var tags []uint16
	for _, owner := range owners {
		tag, err := verifyRRset(section, sets[owner], t, keys, when)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", dns.TypeToString[t], owner, err)
		}
		if !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
	}
	return tags, nil
}

func verifyRRset(section, rrset []dns.RR, t uint16, keys []*dns.DNSKEY, when time.Time) (uint16, error) {
	owner := rrset[0].Header().Name
	var sigs []*dns.RRSIG
	for _, s := range answersOf[*dns.RRSIG](section) {
		if s.TypeCovered == t && strings.EqualFold(s.Hdr.Name, owner) {
			sigs = append(sigs, s)
		}
	}
	if len(sigs) == 0 {
		return 0, errors.New("no RRSIG covering it, expected one (is the zone signed?)")
	}
	var seen []string
	for _, s := range sigs {
		var key *dns.DNSKEY
		for _, k := range keys {
			if k.KeyTag() == s.KeyTag && k.Algorithm == s.Algorithm && strings.EqualFold(k.Hdr.Name, s.SignerName) {
				key = k
				break
			}
		}
		if key == nil {
			seen = append(seen, fmt.Sprintf("key tag %d: no such DNSKEY", s.KeyTag))
			continue
		}
		if err := s.Verify(key, rrset); err != nil {
			seen = append(seen, fmt.Sprintf("key tag %d: %v", s.KeyTag, err))
			continue
		}
		if !s.ValidityPeriod(when) {
			seen = append(seen, fmt.Sprintf("key tag %d: valid from %s to %s, not at %s", s.KeyTag,
				dns.TimeToString(s.Inception), dns.TimeToString(s.Expiration), when.UTC().Format("20060102150405")))
			continue
		}
		return s.KeyTag, nil
	}
	return 0, fmt.Errorf("no valid signature: %s", strings.Join(seen, "; "))
}

func checkDNSSEC(ctx context.Context, m Machine) error {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	d := dns.Fqdn(site.Domain)
	ask := func(name string, t uint16) (*dns.Msg, error) {
		return dnsQuery(ctx, m, "auto", name, t, true)
	}
	r, err := ask(d, dns.TypeDNSKEY)
	if err != nil {
		return err
	}
	if err := authoritative(r); err != nil {
		return err
	}
	if o := r.IsEdns0(); o == nil || !o.Do() {
		return fmt.Errorf("DNSKEY %s with the DO bit: the answer does not set DO back, expected a DNSSEC-aware server", d)
	}
	keys := answersOf[*dns.DNSKEY](r.Answer)
	if len(keys) == 0 {
		return fmt.Errorf("DNSKEY %s: no key in the answer, expected the zone's keys (is the zone signed?)", d)
	}
	var sep []*dns.DNSKEY
	for _, k := range keys {
		role := "ZSK"
		if k.Flags&dns.SEP != 0 {
			role = "KSK/CSK"
			sep = append(sep, k)
		}
		m.Note("DNSKEY tag %d %s algorithm %s", k.KeyTag(), role, dns.AlgorithmToString[k.Algorithm])
	}
	if len(sep) == 0 {
		return fmt.Errorf("DNSKEY %s: no key has the SEP flag (257), so the parent has nothing to point a DS at", d)
	}
	now := time.Now()
	if _, err := signedBy(r.Answer, dns.TypeDNSKEY, sep, now); err != nil {
		return fmt.Errorf("%w (checked with the SEP keys)", err)
	}
	for _, k := range sep {
		if ds := k.ToDS(dns.SHA256); ds != nil {
			m.Note("DS for the registrar: %d %d %d %s", ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
		}
	}

	if r, err = ask(d, dns.TypeSOA); err != nil {
		return err
	}
	if err := authoritative(r); err != nil {
		return err
	}
	tags, err := signedBy(r.Answer, dns.TypeSOA, keys, now)
	if err != nil {
		return err
	}
	m.Note("SOA signed by key tag %v", tags)

	// A name that does not exist: the denial must be signed too.
	missing := "ostal-check-" + randomHex(4) + "." + d
	if r, err = ask(missing, dns.TypeA); err != nil {
		return err
	}
	if r.Rcode != dns.RcodeNameError {
		return fmt.Errorf("A %s: %s, expected NXDOMAIN for a name that does not exist", missing, dns.RcodeToString[r.Rcode])
	}
	denial := ""
	for _, t := range []uint16{dns.TypeNSEC, dns.TypeNSEC3} {
		if len(rrsOfType(r.Ns, t)) > 0 {
			denial = dns.TypeToString[t]
			if _, err := signedBy(r.Ns, t, keys, now); err != nil {
				return fmt.Errorf("A %s (NXDOMAIN): %w", missing, err)
			}
			break
		}
	}
	if denial == "" {
		return fmt.Errorf("A %s: NXDOMAIN without NSEC or NSEC3 records, expected a signed denial of existence", missing)
	}
	m.Note("denial of existence by %s", denial)
	return nil
}
