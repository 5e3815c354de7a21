package checks

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// TLS: every site name has a certificate that chains to the expected
// roots, and plain HTTP only redirects, except for ACME challenges.
func init() {
	Default.Register(Check{Name: "tls.chains", Summary: "every site name presents a valid certificate for itself on port 443; issuer and expiry",
		Timeout: 2 * time.Minute, Services: []string{"tls"}, Run: checkTLSChains})
	Default.Register(Check{Name: "tls.redirect", Summary: "plain HTTP on port 80 redirects to the same page over HTTPS, except ACME challenges",
		Timeout: 2 * time.Minute, Services: []string{"tls"}, Run: checkTLSRedirect})
}

// webNames lists the site names served over HTTPS: every name of
// site.json but the name server's, sorted.
func webNames(site Site) []string {
	var names []string
	for _, role := range slices.Sorted(maps.Keys(site.Names)) {
		if n := site.Names[role]; role != "ns" && n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// handshake makes a TLS handshake with the guest's port 443 naming name;
// verify checks the chain against the machine's roots and the name.
func handshake(ctx context.Context, m Machine, name string, verify bool) (tls.ConnectionState, error) {
	addr, err := m.Addr(443)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	return tlsDial(ctx, addr, &tls.Config{ServerName: name, RootCAs: m.TLSRoots(), InsecureSkipVerify: !verify,
		MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
}

// describeCert says what a certificate is for and who issued it.
func describeCert(c *x509.Certificate) string {
	names := c.DNSNames
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = []string{"CN " + c.Subject.CommonName}
	}
	return fmt.Sprintf("a certificate for %s issued by %q, valid %s to %s", strings.Join(names, ", "), issuerName(c),
		c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly))
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

func checkTLSChains(ctx context.Context, m Machine) error {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	names := webNames(site)
	if len(names) == 0 {
		return fmt.Errorf("/etc/ostal/site.json names no site (names: %s)", sortedKeys(site.Names))
	}
	roots := "the system's roots"
	if m.TLSRoots() != nil {
		roots = "the test CA"
	}
	type certInfo struct {
		desc  string
		names []string
	}
	certs := map[[32]byte]*certInfo{}
	var order [][32]byte
	var problems []string
	for _, name := range names {
		st, err := handshake(ctx, m, name, true)
		if err != nil {
			// Say what the server did present, if it presents anything.
			seen := ""
			if raw, rerr := handshake(ctx, m, name, false); rerr == nil && len(raw.PeerCertificates) > 0 {
				seen = "; it presents " + describeCert(raw.PeerCertificates[0])
			}
			problems = append(problems, fmt.Sprintf("%s: expected a certificate for it chaining to %s: %v%s", name, roots, err, seen))
			continue
		}
		leaf := st.PeerCertificates[0]
		if err := leaf.VerifyHostname(name); err != nil {
			problems = append(problems, fmt.Sprintf("%s: the leaf does not cover it: %v", name, err))
			continue
		}
		if left := time.Until(leaf.NotAfter); left < 7*24*time.Hour && m.TLSRoots() == nil {
			problems = append(problems, fmt.Sprintf("%s: the certificate expires in %.1f days (%s), expected renewal before the last week",
				name, left.Hours()/24, leaf.NotAfter.UTC().Format(time.RFC3339)))
		}
		fp := sha256.Sum256(leaf.Raw)
		ci := certs[fp]
		if ci == nil {
			ci = &certInfo{desc: fmt.Sprintf("issued by %q, expires %s (%.0f days), %s, %d certificates in the chain",
				issuerName(leaf), leaf.NotAfter.UTC().Format(time.DateOnly), time.Until(leaf.NotAfter).Hours()/24,
				tls.VersionName(st.Version), len(st.PeerCertificates))}
			certs[fp] = ci
			order = append(order, fp)
		}
		ci.names = append(ci.names, name)
	}
	for _, fp := range order {
		m.Note("%s: %s", strings.Join(certs[fp].names, " "), certs[fp].desc)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// redirectsTo checks that a redirect's Location is the same request over
// HTTPS: the same host and the same path and query.
func redirectsTo(location, host, requestURI string) error {
	u, err := url.Parse(location)
	if err != nil {
		return fmt.Errorf("Location %q is not a URL: %v", location, err)
	}
	want := "https://" + host + requestURI
	if u.Scheme != "https" || !strings.EqualFold(u.Hostname(), host) || (u.Port() != "" && u.Port() != "443") || u.RequestURI() != requestURI {
		return fmt.Errorf("Location %q, expected %s", location, want)
	}
	return nil
}

func checkTLSRedirect(ctx context.Context, m Machine) error {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	c := WebClientNoRedirect(m)
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	const page = "/ostal-check/a%20page?x=1&y=two"
	const challenge = "/.well-known/acme-challenge/x"
	for _, name := range webNames(site) {
		r, err := doWeb(ctx, c, webCall{Method: http.MethodGet, URL: "http://" + name + page})
		if err != nil {
			return err
		}
		switch r.Status {
		case http.StatusMovedPermanently, http.StatusPermanentRedirect:
			if err := redirectsTo(r.Header.Get("Location"), name, page); err != nil {
				fail("http://%s%s: %v", name, page, err)
			}
		default:
			fail("http://%s%s: %s, expected 301 or 308 to https://%s%s", name, page, r, name, page)
		}

		if r, err = doWeb(ctx, c, webCall{Method: http.MethodGet, URL: "http://" + name + challenge}); err != nil {
			return err
		}
		loc := r.Header.Get("Location")
		switch {
		case r.Status >= 300 && r.Status < 400:
			fail("http://%s%s: %d to %q, expected an answer over plain HTTP (404 when there is no challenge)", name, challenge, r.Status, loc)
		case r.Status >= 500:
			fail("http://%s%s: %s, expected 404 when there is no challenge", name, challenge, r)
		case r.Status != http.StatusNotFound:
			m.Note("http://%s%s: %d", name, challenge, r.Status)
		}
	}
	m.Note("checked %d names", len(webNames(site)))
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}
