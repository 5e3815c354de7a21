package checks

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// The zone's records: SPF, DMARC, DKIM, MX and CAA, as dns.records reads them.

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
