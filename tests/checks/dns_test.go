package checks

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/provision"
)

const testZone = "cooperative-integrale-toulouse.org."

func rrs(t *testing.T, lines ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		require.NoError(t, err, l)
		out = append(out, rr)
	}
	return out
}

func answer(t *testing.T, lines ...string) *dns.Msg {
	r := new(dns.Msg)
	r.SetQuestion(testZone, dns.TypeA)
	r.Response, r.Authoritative = true, true
	r.Answer = rrs(t, lines...)
	return r
}

func TestAuthoritative(t *testing.T) {
	r := answer(t)
	assert.NoError(t, authoritative(r))
	r.Authoritative = false
	assert.EqualError(t, authoritative(r), "the answer to A "+testZone+" lacks the authoritative answer (AA) flag: the server does not serve the zone itself")
	r.Authoritative, r.Rcode = true, dns.RcodeRefused
	assert.EqualError(t, authoritative(r), "the answer to A "+testZone+" is REFUSED, expected NOERROR")
}

func TestHasAddress(t *testing.T) {
	r := answer(t, "www.x. 300 IN CNAME x.", "x. 300 IN A 192.0.2.7", "x. 300 IN A 192.0.2.8")
	assert.NoError(t, hasAddress(r, "192.0.2.8"))
	assert.EqualError(t, hasAddress(r, "192.0.2.9"), "192.0.2.7, 192.0.2.8, expected 192.0.2.9")
	assert.EqualError(t, hasAddress(answer(t), "192.0.2.9"), "no address, expected 192.0.2.9")
	assert.NoError(t, hasAddress(answer(t, "x. 300 IN AAAA 2001:db8::1"), "2001:db8:0::1"))
	assert.ErrorContains(t, hasAddress(r, "nope"), "not an IP address")
}

func TestTXTStringsJoinsChunks(t *testing.T) {
	r := answer(t, `x. 300 IN TXT "v=spf1 " "mx -all"`, `x. 300 IN TXT "other"`)
	assert.Equal(t, []string{"v=spf1 mx -all", "other"}, txtStrings(r))
}

func TestSPFRecord(t *testing.T) {
	for _, c := range []struct {
		txts []string
		want string
		err  string
	}{
		{[]string{"google-site-verification=x", "v=spf1 mx -all"}, "v=spf1 mx -all", ""},
		{[]string{"v=spf1"}, "v=spf1", ""},
		{[]string{"V=SPF1 -all"}, "V=SPF1 -all", ""},
		{[]string{"v=spf10 -all"}, "", `no TXT record starting "v=spf1"`},
		{nil, "", `no TXT record starting "v=spf1"`},
		{[]string{"v=spf1 mx -all", "v=spf1 a -all"}, "", "2 SPF records"},
	} {
		got, err := spfRecord(c.txts)
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, c.txts)
			continue
		}
		require.NoError(t, err, c.txts)
		assert.Equal(t, c.want, got)
	}
}

func TestParseTags(t *testing.T) {
	assert.Equal(t, map[string]string{"v": "DKIM1", "k": "rsa", "p": "MIIBabc=", "t": ""},
		parseTags("v=DKIM1; k=rsa;\tp=MIIB abc= ; t=;;junk"))
	assert.Equal(t, "first", parseTags("p=first; p=second")["p"])
}

func TestDMARCRecord(t *testing.T) {
	for _, c := range []struct {
		txts []string
		want string
		err  string
	}{
		{[]string{"v=DMARC1; p=quarantine; rua=mailto:d@x"}, "quarantine", ""},
		{[]string{"other", "v=DMARC1;p=none"}, "none", ""},
		{[]string{"v=DMARC1; rua=mailto:d@x"}, "", `p=""`},
		{[]string{"v=DMARC1; p=maybe"}, "", `p="maybe"`},
		{[]string{"v=spf1 -all"}, "", `no TXT record starting "v=DMARC1"`},
		{[]string{"v=DMARC1; p=none", "v=DMARC1; p=reject"}, "", "2 DMARC records"},
	} {
		got, err := dmarcRecord(c.txts)
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, c.txts)
			continue
		}
		require.NoError(t, err, c.txts)
		assert.Equal(t, c.want, got)
	}
}

func TestDKIMKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	p := base64.StdEncoding.EncodeToString(der)
	// A long key comes in several strings of one TXT record.
	r := answer(t, `s._domainkey.x. 300 IN TXT "v=DKIM1; k=rsa; p=`+p[:100]+`" "`+p[100:]+`"`)

	desc, err := dkimKey(txtStrings(r), p+"\n")
	require.NoError(t, err)
	assert.Equal(t, "RSA 1024-bit", desc)

	other := strings.Replace(p, p[60:64], "AAAA", 1)
	_, err = dkimKey(txtStrings(r), other)
	assert.ErrorContains(t, err, "differs from the guest's key")

	_, err = dkimKey([]string{"v=spf1 -all"}, p)
	assert.ErrorContains(t, err, "0 TXT records with a p= tag")
	_, err = dkimKey([]string{"v=DKIM2; p=" + p}, p)
	assert.ErrorContains(t, err, "v=DKIM2")
	_, err = dkimKey([]string{"p=" + p}, "")
	assert.ErrorContains(t, err, "no DKIM public key")
	ed := base64.StdEncoding.EncodeToString(make([]byte, 32))
	desc, err = dkimKey([]string{"v=DKIM1; k=ed25519; p=" + ed}, ed)
	require.NoError(t, err)
	assert.Equal(t, "ed25519", desc)
}

func TestMXTargets(t *testing.T) {
	got, err := mxTargets(answer(t, "x. 300 IN MX 10 utzqanil."+testZone, "x. 300 IN MX 20 "+strings.ToUpper(testZone)), testZone)
	require.NoError(t, err)
	assert.Equal(t, []string{"10 utzqanil." + testZone, "20 " + strings.ToUpper(testZone)}, got)
	_, err = mxTargets(answer(t, "x. 300 IN MX 10 mx.example.net."), testZone)
	assert.EqualError(t, err, "MX 10 mx.example.net. points outside "+testZone)
	_, err = mxTargets(answer(t, "x. 300 IN MX 0 ."), testZone)
	assert.ErrorContains(t, err, "null MX")
	_, err = mxTargets(answer(t), testZone)
	assert.ErrorContains(t, err, "no MX record")
}

func TestCAAIssue(t *testing.T) {
	got, err := caaIssue(answer(t, `x. 300 IN CAA 0 issue "letsencrypt.org"`, `x. 300 IN CAA 0 iodef "mailto:a@x"`))
	require.NoError(t, err)
	assert.Equal(t, []string{"letsencrypt.org"}, got)
	_, err = caaIssue(answer(t, `x. 300 IN CAA 0 iodef "mailto:a@x"`))
	assert.EqualError(t, err, `no CAA record with the issue tag (tags seen: ["iodef"])`)
}

// signed makes a zone key and signs rrset with it, valid from inception
// to expiration.
func signed(t *testing.T, rrset []dns.RR, inception, expiration time.Time) (*dns.DNSKEY, *dns.RRSIG) {
	t.Helper()
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: testZone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := key.Generate(256)
	require.NoError(t, err)
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: rrset[0].Header().Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 3600},
		Algorithm: key.Algorithm, SignerName: testZone, KeyTag: key.KeyTag(),
		Inception: uint32(inception.Unix()), Expiration: uint32(expiration.Unix())}
	require.NoError(t, sig.Sign(priv.(crypto.Signer), rrset))
	return key, sig
}

func TestSignedBy(t *testing.T) {
	now := time.Now()
	soa := rrs(t, testZone+" 3600 IN SOA ns1."+testZone+" hostmaster."+testZone+" 2025010101 3600 900 1209600 300")
	key, sig := signed(t, soa, now.Add(-time.Hour), now.Add(time.Hour))

	tags, err := signedBy(append(append([]dns.RR{}, soa...), sig), dns.TypeSOA, []*dns.DNSKEY{key}, now)
	require.NoError(t, err)
	assert.Equal(t, []uint16{key.KeyTag()}, tags)

	_, err = signedBy(soa, dns.TypeSOA, []*dns.DNSKEY{key}, now)
	assert.EqualError(t, err, "SOA "+testZone+": no RRSIG covering it, expected one (is the zone signed?)")

	_, err = signedBy([]dns.RR{soa[0], sig}, dns.TypeSOA, []*dns.DNSKEY{key}, now.Add(2*time.Hour))
	assert.ErrorContains(t, err, "not at")

	other, _ := signed(t, soa, now.Add(-time.Hour), now.Add(time.Hour))
	_, err = signedBy([]dns.RR{soa[0], sig}, dns.TypeSOA, []*dns.DNSKEY{other}, now)
	assert.ErrorContains(t, err, "no such DNSKEY")

	changed := dns.Copy(soa[0]).(*dns.SOA)
	changed.Serial++
	_, err = signedBy([]dns.RR{changed, sig}, dns.TypeSOA, []*dns.DNSKEY{key}, now)
	assert.ErrorContains(t, err, "no valid signature")

	_, err = signedBy(nil, dns.TypeSOA, nil, now)
	assert.EqualError(t, err, "no SOA record in the answer")
}

func TestSignedByNeedsEveryOwnerSigned(t *testing.T) {
	now := time.Now()
	a := rrs(t, "a."+testZone+" 300 IN NSEC c."+testZone+" A RRSIG NSEC")
	b := rrs(t, testZone+" 300 IN NSEC a."+testZone+" SOA NS RRSIG NSEC DNSKEY")
	key, sigA := signed(t, a, now.Add(-time.Hour), now.Add(time.Hour))
	section := []dns.RR{a[0], sigA, b[0]}
	_, err := signedBy(section, dns.TypeNSEC, []*dns.DNSKEY{key}, now)
	assert.EqualError(t, err, "NSEC "+testZone+": no RRSIG covering it, expected one (is the zone signed?)")
}

func TestNSMatches(t *testing.T) {
	site := Site{provision.Site{Names: map[string]string{"ns": "ns1.d.org"}}}
	assert.NoError(t, nsMatches([]string{"NS1.d.org.", "ns.other.net."}, site))
	assert.EqualError(t, nsMatches([]string{"ns.other.net."}, site), "ns.other.net., expected ns1.d.org. among them (site.json names.ns)")
	site.Nameservers = []string{"ns1.d.org", "ns.other.net"}
	assert.NoError(t, nsMatches([]string{"ns.other.net.", "ns1.d.org."}, site))
	assert.EqualError(t, nsMatches([]string{"ns1.d.org."}, site), "ns1.d.org., expected ns.other.net. ns1.d.org. (site.json nameservers)")
}

func TestKeyDiff(t *testing.T) {
	assert.Equal(t, `12 characters, expected 10; from character 8: "…EFGHxyzw", expected "…EFGHIJ"`, keyDiff("ABCDEFGHxyzw", "ABCDEFGHIJ"))
	assert.Equal(t, `2 characters, expected 3; from character 0: "…ab", expected "…xyz"`, keyDiff("ab", "xyz"))
}
