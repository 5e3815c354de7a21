package images

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateSite(t *testing.T) {
	cases := []struct {
		name   string
		change func(s *Spec)
		want   string
	}{
		{"unknown service", func(s *Spec) { s.Services = []string{"wikki"} },
			`images/x.yaml: services[0]: "wikki" is not a service ostal knows; did you mean "wiki"? The services are: dav, dns, files, firewall, lists, ssh, tls, wiki, www`},
		{"service twice", func(s *Spec) { s.Services = []string{"dns", "dns"} },
			`images/x.yaml: services[1]: "dns" is listed twice; remove the repetition`},
		{"web service without tls", func(s *Spec) { s.Services = []string{"dav"} },
			`images/x.yaml: services[0]: "dav" needs the tls service; add "tls" to services`},
		{"services without domain", func(s *Spec) { s.Domain = "" },
			`images/x.yaml: domain: services need a domain; name the cooperative's domain, e.g. cooperative-integrale-toulouse.org`},
		{"domain with a trailing dot", func(s *Spec) { s.Domain = "example.org." },
			`images/x.yaml: domain: "example.org." is not a domain name; write the domain in lower case without a trailing dot, e.g. example.org`},
		{"bad admin key", func(s *Spec) { s.AdminKeys = []string{"ssh-ed25519 AAAA-not-base64 me"} },
			`images/x.yaml: admin_keys[0]: "ssh-ed25519 AAAA-not-base64 me" is not an SSH public key; paste one public key line, e.g. the content of ~/.ssh/id_ed25519.pub`},
		{"IPv6 as address", func(s *Spec) { s.DNS.Address = "2a03::1" },
			`images/x.yaml: dns.address: "2a03::1" is not an IPv4 address; write the machine's public IPv4 address, e.g. 91.224.148.10`},
		{"unknown record type", func(s *Spec) { s.DNS.Records = []Record{{Name: "@", Type: "SOA", Value: "x"}} },
			`images/x.yaml: dns.records[0].type: "SOA" is not a record type ostal adds; use one of A, AAAA, CAA, CNAME, MX, SRV, TXT, TLSA, SSHFP`},
		{"bad MX", func(s *Spec) { s.DNS.Records = []Record{{Name: "@", Type: "MX", Value: "mail.example.org"}} },
			`images/x.yaml: dns.records[0].value: "mail.example.org" is not a valid MX value; a MX record's value is "10 mail.example.org."`},
		{"bad A", func(s *Spec) { s.DNS.Records = []Record{{Name: "git", Type: "A", Value: "1.2.3"}} },
			`images/x.yaml: dns.records[0].value: "1.2.3" is not a valid A value; a A record's value is an IPv4 address`},
		{"CNAME beside generated records", func(s *Spec) {
			s.DNS.Records = []Record{{Name: "wiki", Type: "CNAME", Value: "elsewhere.example.net."}}
		},
			`images/x.yaml: dns.records[0].name: "wiki" already has records ostal generates; a CNAME cannot stand beside them; use another name, or drop the record: ostal writes this name's A, MX and TXT records`},
		{"second SPF policy", func(s *Spec) {
			s.DNS.Records = []Record{{Name: "@", Type: "TXT", Value: `"v=spf1 include:mail.example.net -all"`}}
		},
			`images/x.yaml: dns.records[0].value: "\"v=spf1 include:mail.example.net -all\"" would be a second SPF policy for "@"; drop the record: the zone already says "v=spf1 mx -all" there`},
		{"second DMARC policy", func(s *Spec) { s.DNS.Records = []Record{{Name: "_dmarc", Type: "TXT", Value: `"v=DMARC1; p=none"`}} },
			`images/x.yaml: dns.records[0].name: "\"v=DMARC1; p=none\"" would be a second DMARC policy; drop the record: ostal writes the DMARC policy`},
		{"absolute name", func(s *Spec) { s.DNS.Records = []Record{{Name: "git.example.org.", Type: "A", Value: "1.2.3.4"}} },
			`images/x.yaml: dns.records[0].name: "git.example.org." is not a relative name; write the name relative to the domain ("@" for the domain, "www" for www.DOMAIN)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := goodSpec()
			s.Domain, s.Services = "example.org", []string{"tls", "wiki", "dns"}
			c.change(s)
			err := Validate(s, provisionDir(t), testIndex(t))
			require.Error(t, err)
			assert.Equal(t, c.want, err.Error())
		})
	}
}

func TestValidateSiteAcceptsGoodRecords(t *testing.T) {
	s := goodSpec()
	s.Domain, s.Services = "example.org", []string{"dns"}
	s.DNS = DNS{Address: "192.0.2.10", Address6: "2001:db8::10", Records: []Record{
		{Name: "@", Type: "TXT", Value: `"google-site-verification=abc"`},
		{Name: "git", Type: "CNAME", Value: "forge.example.net."},
		{Name: "_xmpp-client._tcp", Type: "SRV", Value: "5 0 5222 xmpp.example.org."},
		{Name: "@", Type: "CAA", Value: `0 iodef "mailto:postmaster@example.org"`},
	}}
	assert.NoError(t, Validate(s, provisionDir(t), nil))
}

func TestServicesBringPackagesAndUnits(t *testing.T) {
	s := &Spec{Packages: []string{"nginx", "less"}, Units: []string{"ssh.service"}, Services: []string{"tls", "dav", "ssh"}}
	assert.Equal(t, []string{"nginx", "less", "e2fsprogs", "python3-bcrypt", "openssl", "lego", "radicale", "openssh-server"}, s.AllPackages())
	assert.Equal(t, []string{"ssh.service", "ostal-data.service", "systemd-networkd.service", "ostal-ready.service",
		"nginx.service", "ostal-tls-init.service", "ostal-acme.timer", "radicale.service", "ssh-host-keys.service"}, s.AllUnits())
	assert.Empty(t, (&Spec{Packages: []string{"less"}}).AllUnits(), "no services, no base")
}

// mail.postmaster: required with lists, an address, and one that takes
// mail elsewhere than where it is forwarded from.
func TestValidateMail(t *testing.T) {
	const hint = "; name the committee's address at its own mail provider, or a list at listes.example.org"
	cases := []struct {
		name       string
		services   []string
		postmaster string
		want       string
	}{
		{"the committee's address", []string{"tls", "lists"}, "comite@example.net", ""},
		{"a list of the machine", []string{"tls", "lists"}, "comite@listes.example.org", ""},
		{"a placeholder at a reserved domain", []string{"tls", "lists"}, "comite@example.com", ""},
		{"none, without lists", []string{"tls", "wiki"}, "", ""},
		{"missing with lists", []string{"tls", "lists"}, "",
			`images/x.yaml: mail.postmaster: the lists service takes postmaster@ and abuse@ of the domain (named by DMARC, CAA, ACME and Mailman), and they need an address to go to; write the committee's address, e.g. mail: {postmaster: comite@example.net}`},
		{"set without lists", []string{"tls", "wiki"}, "comite@example.net",
			`images/x.yaml: mail.postmaster: "comite@example.net": only the lists service takes mail, and the spec does not have it; remove it, or add "lists" to services`},
		{"no domain", []string{"tls", "lists"}, "comite",
			`images/x.yaml: mail.postmaster: "comite" is not an e-mail address; write one address in lower case, e.g. comite@example.net`},
		{"two addresses", []string{"tls", "lists"}, "a@example.net, b@example.net",
			`images/x.yaml: mail.postmaster: "a@example.net, b@example.net" is not an e-mail address; write one address in lower case, e.g. comite@example.net`},
		{"a name with the address", []string{"tls", "lists"}, "Comité <comite@example.net>",
			`images/x.yaml: mail.postmaster: "Comité <comite@example.net>" is not an e-mail address; write one address in lower case, e.g. comite@example.net`},
		{"upper-case domain", []string{"tls", "lists"}, "comite@Example.NET",
			`images/x.yaml: mail.postmaster: "comite@Example.NET" is not an e-mail address; write one address in lower case, e.g. comite@example.net`},
		{"at the domain, which has no mailboxes", []string{"tls", "lists"}, "comite@example.org",
			`images/x.yaml: mail.postmaster: "comite@example.org" is at example.org, a name of this machine, which has no mailbox anyone reads` + hint},
		{"postmaster of the domain itself", []string{"tls", "lists"}, "postmaster@example.org",
			`images/x.yaml: mail.postmaster: "postmaster@example.org" is at example.org, a name of this machine, which has no mailbox anyone reads` + hint},
		{"root of the machine", []string{"tls", "lists"}, "root@web.example.org",
			`images/x.yaml: mail.postmaster: "root@web.example.org" is at web.example.org, a name of this machine, which has no mailbox anyone reads` + hint},
		{"the lists' abuse@, a loop", []string{"tls", "lists"}, "Abuse@listes.example.org",
			`images/x.yaml: mail.postmaster: "Abuse@listes.example.org" is itself forwarded to mail.postmaster: the mail would loop` + hint},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := goodSpec()
			s.Domain, s.Services, s.Mail.Postmaster = "example.org", c.services, c.postmaster
			err := Validate(s, provisionDir(t), testIndex(t))
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, c.want, err.Error())
			require.Len(t, Problems(err), 1)
			assert.Equal(t, "mail.postmaster", Problems(err)[0].Field)
		})
	}
}
