package images

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/didyoumean"
	"github.com/miekg/dns"
	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/provision"
)

var domainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// recordTypes are the types a spec may add to the zone; SOA, NS and
// DNSSEC records are the zone's own.
var recordTypes = []string{"A", "AAAA", "CAA", "CNAME", "MX", "SRV", "TXT", "TLSA", "SSHFP"}

// validateSite checks what the services need: known names, a domain, the
// admins' keys and the extra zone records.
func validateSite(p *problems, s *Spec) {
	seen := map[string]bool{}
	for i, name := range s.Services {
		field := fmt.Sprintf("services[%d]", i)
		_, known := provision.Services[name]
		switch {
		case !known:
			hint := "the services are: " + strings.Join(provision.Names(), ", ")
			if sug := didyoumean.NameSuggestion(name, provision.Names()); sug != "" {
				hint = fmt.Sprintf("did you mean %q? The services are: %s", sug, strings.Join(provision.Names(), ", "))
			}
			p.add(field, hint, "%q is not a service ostal knows", name)
		case seen[name]:
			p.add(field, "remove the repetition", "%q is listed twice", name)
		}
		seen[name] = true
	}
	for i, name := range s.Services {
		for _, need := range provision.Services[name].Needs {
			if !seen[need] {
				p.add(fmt.Sprintf("services[%d]", i), fmt.Sprintf("add %q to services", need), "%q needs the %s service", name, need)
			}
		}
	}
	if len(s.Services) > 0 && s.Domain == "" {
		p.add("domain", "name the cooperative's domain, e.g. cooperative-integrale-toulouse.org", "services need a domain")
	}
	if s.Domain != "" && !domainRE.MatchString(s.Domain) {
		p.add("domain", "write the domain in lower case without a trailing dot, e.g. example.org", "%q is not a domain name", s.Domain)
	}
	for i, k := range s.AdminKeys {
		if _, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(k)); err != nil || len(rest) > 0 {
			p.add(fmt.Sprintf("admin_keys[%d]", i), "paste one public key line, e.g. the content of ~/.ssh/id_ed25519.pub",
				"%q is not an SSH public key", short(k))
		}
	}
	if a := s.DNS.Address; a != "" && (net.ParseIP(a) == nil || net.ParseIP(a).To4() == nil) {
		p.add("dns.address", "write the machine's public IPv4 address, e.g. 91.224.148.10", "%q is not an IPv4 address", a)
	}
	if a := s.DNS.Address6; a != "" && (net.ParseIP(a) == nil || net.ParseIP(a).To4() != nil) {
		p.add("dns.address6", "write the machine's public IPv6 address, e.g. 2a03:7220:8080::10", "%q is not an IPv6 address", a)
	}
	for i, ns := range s.DNS.Nameservers {
		if _, ok := dns.IsDomainName(ns); !ok || !strings.Contains(ns, ".") {
			p.add(fmt.Sprintf("dns.nameservers[%d]", i), "write a full host name, e.g. ns1.example.org", "%q is not a host name", ns)
		}
	}
	validateMail(p, s)
	generated := generatedNames(s)
	for i, r := range s.DNS.Records {
		field := fmt.Sprintf("dns.records[%d]", i)
		if validateRecord(p, field, r, s.Domain) {
			checkClash(p, field, r, generated)
		}
	}
}

// mailboxRE is an address the committee reads mail at: a plain local
// part (no quotes, spaces or commas, which Postfix's inline map would
// misread) and a domain.
var mailboxRE = regexp.MustCompile(`^[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@([^@]+)$`)

// validateMail checks mail.postmaster: required with the lists service
// (Postfix takes postmaster@ and abuse@ of the domain and forwards them
// there), an address elsewhere than the names this machine keeps no
// mailbox for, and not one of the addresses forwarded to it.
func validateMail(p *problems, s *Spec) {
	const field = "mail.postmaster"
	const example = "comite@example.net"
	lists := slices.Contains(s.Services, "lists")
	addr := s.Mail.Postmaster
	switch {
	case addr == "" && lists:
		p.add(field, fmt.Sprintf("write the committee's address, e.g. mail: {postmaster: %s}", example),
			"the lists service takes postmaster@ and abuse@ of the domain (named by DMARC, CAA, ACME and Mailman), and they need an address to go to")
		return
	case addr == "":
		return
	case !lists:
		p.add(field, `remove it, or add "lists" to services`, "%q: only the lists service takes mail, and the spec does not have it", addr)
		return
	}
	m := mailboxRE.FindStringSubmatch(addr)
	if m == nil || !domainRE.MatchString(m[2]) {
		p.add(field, fmt.Sprintf("write one address in lower case, e.g. %s", example), "%q is not an e-mail address", addr)
		return
	}
	local, domain := strings.ToLower(addr[:strings.LastIndex(addr, "@")]), m[2]
	site := provision.NewSite(s.Domain, s.Hostname, s.Services)
	switch {
	case domain == s.Domain || domain == site.FQDN:
		p.add(field, "name the committee's address at its own mail provider, or a list at "+site.Names["lists"],
			"%q is at %s, a name of this machine, which has no mailbox anyone reads", addr, domain)
	case domain == site.Names["lists"] && (local == "postmaster" || local == "abuse"):
		p.add(field, "name the committee's address at its own mail provider, or a list at "+site.Names["lists"],
			"%q is itself forwarded to mail.postmaster: the mail would loop", addr)
	}
}

// generatedNames are the names whose records ostal writes into the zone
// itself (provision/dns/rootfs/etc/ostal/zone.base.tmpl).
func generatedNames(s *Spec) map[string]bool {
	names := map[string]bool{"@": true, "ns1": true, s.Hostname: true, "_dmarc": true}
	site := provision.NewSite(s.Domain, s.Hostname, s.Services)
	for _, n := range site.Names {
		if rel, ok := strings.CutSuffix(n, "."+s.Domain); ok {
			names[rel] = true
		}
	}
	return names
}

// checkClash refuses a record that would break the generated zone: Knot
// does not load a zone with a CNAME beside other records, and two SPF or
// DMARC policies make receivers ignore both.
func checkClash(p *problems, field string, r Record, generated map[string]bool) {
	typ, value := strings.ToUpper(r.Type), strings.Trim(strings.TrimSpace(r.Value), `"`)
	switch {
	case typ == "CNAME" && generated[r.Name]:
		p.add(field+".name", "use another name, or drop the record: ostal writes this name's A, MX and TXT records",
			"%q already has records ostal generates; a CNAME cannot stand beside them", r.Name)
	case typ == "TXT" && strings.HasPrefix(value, "v=spf1") && generated[r.Name]:
		p.add(field+".value", "drop the record: the zone already says \"v=spf1 mx -all\" there", "%q would be a second SPF policy for %q", r.Value, r.Name)
	case typ == "TXT" && r.Name == "_dmarc":
		p.add(field+".name", "drop the record: ostal writes the DMARC policy", "%q would be a second DMARC policy", r.Value)
	}
}

// validateRecord reports a malformed record; it says whether the record
// is well-formed.
func validateRecord(p *problems, field string, r Record, domain string) bool {
	typ := strings.ToUpper(r.Type)
	known := false
	for _, t := range recordTypes {
		known = known || t == typ
	}
	if !known {
		p.add(field+".type", "use one of "+strings.Join(recordTypes, ", "), "%q is not a record type ostal adds", r.Type)
		return false
	}
	if r.Name != "@" && (strings.HasSuffix(r.Name, ".") || !domainRE.MatchString(r.Name+".x.org") && !strings.HasPrefix(r.Name, "_")) {
		p.add(field+".name", `write the name relative to the domain ("@" for the domain, "www" for www.DOMAIN)`, "%q is not a relative name", r.Name)
		return false
	}
	if r.TTL < 0 || r.TTL > 604800 {
		p.add(field+".ttl", "use seconds between 60 and 604800, or leave it out (3600)", "%d is not a usable TTL", r.TTL)
		return false
	}
	origin := domain
	if origin == "" {
		origin = "example.org"
	}
	if _, err := dns.NewRR(fmt.Sprintf("$ORIGIN %s.\n%s 3600 IN %s %s", origin, r.Name, typ, r.Value)); err != nil || strings.TrimSpace(r.Value) == "" {
		hint := map[string]string{"A": "an IPv4 address", "AAAA": "an IPv6 address", "MX": `"10 mail.example.org."`,
			"TXT": `a quoted string, e.g. "\"v=spf1 mx -all\""`, "CAA": `"0 issue \"letsencrypt.org\""`, "CNAME": `"host.example.org."`,
			"SRV": `"10 5 443 host.example.org."`}[typ]
		if hint == "" {
			hint = "the record's data as in a zone file"
		}
		p.add(field+".value", "a "+typ+" record's value is "+hint, "%q is not a valid %s value", r.Value, typ)
		return false
	}
	return true
}

func short(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
