package checks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

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
