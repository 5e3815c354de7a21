package checks

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

func init() {
	Default.Register(Check{Name: "tls.profile", Summary: "every site speaks Mozilla's intermediate TLS (no CBC suite, nothing below 1.2) and sends HSTS with includeSubDomains, nosniff, a Referrer-Policy and frame-ancestors, in the locations with headers of their own too; Django's admin is not public",
		Timeout: 5 * time.Minute, Services: []string{"tls"}, Run: checkTLSProfile})
}

// cbcSuites are TLS 1.2's CBC suites that Go can still offer: Mozilla's
// intermediate profile has none of them.
var cbcSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA,
}

// securityHeaders are the headers every answer of every site carries,
// each with a part of its value that must be there.
var securityHeaders = []struct{ name, want string }{
	{"Strict-Transport-Security", "includeSubDomains"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "strict-origin-when-cross-origin"},
	{"Content-Security-Policy", "frame-ancestors 'self'"},
}

// ownHeaderPaths are, by site role, pages whose nginx location has
// headers of its own (where nginx would drop the server's).
var ownHeaderPaths = map[string][]string{
	"wiki": {"/images/ostal-check-none.png", "/images/thumb/ostal-check-none.png"},
	"apex": {"/wp-content/uploads/ostal-check-none.txt"},
	"www":  {"/wp-content/uploads/ostal-check-none.txt"},
}

func checkTLSProfile(ctx context.Context, m Machine) error {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	addr, err := m.Addr(443)
	if err != nil {
		return err
	}
	c := WebClientNoRedirect(m)
	var problems []string
	for role, name := range site.Names {
		if role == "ns" || name == "" {
			continue
		}
		if _, err := tlsDial(ctx, addr, &tls.Config{ServerName: name, InsecureSkipVerify: true,
			MaxVersion: tls.VersionTLS12, CipherSuites: cbcSuites}); err == nil {
			problems = append(problems, name+": a TLS 1.2 handshake with CBC suites only succeeds")
		}
		// Go offers nothing below 1.2 unless MinVersion asks for it.
		if _, err := tlsDial(ctx, addr, &tls.Config{ServerName: name, InsecureSkipVerify: true,
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
			problems = append(problems, name+": TLS 1.1 is accepted")
		}
		if st, err := tlsDial(ctx, addr, &tls.Config{ServerName: name, RootCAs: m.TLSRoots(),
			MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}); err != nil {
			problems = append(problems, fmt.Sprintf("%s: TLS 1.2 with its AEAD suites fails, which older clients need: %v", name, err))
		} else {
			m.Note("%s: TLS 1.2 with %s", name, tls.CipherSuiteName(st.CipherSuite))
		}
		for _, path := range append([]string{"/"}, ownHeaderPaths[role]...) {
			problems = append(problems, missingHeaders(ctx, c, SiteURL(m, name, path))...)
		}
	}
	if lists := site.Names["lists"]; lists != "" {
		res, err := doWeb(ctx, c, webCall{Method: http.MethodGet, URL: SiteURL(m, lists, "/admin/")})
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("GET https://%s/admin/: %v", lists, err))
		case res.Status != http.StatusForbidden && res.Status != http.StatusNotFound:
			problems = append(problems, fmt.Sprintf("https://%s/admin/, Django's admin, is public: %s", lists, res))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return nil
}

// missingHeaders names the security headers that url's answer lacks.
func missingHeaders(ctx context.Context, c *http.Client, url string) []string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return []string{err.Error()}
	}
	resp, err := c.Do(req)
	if err != nil {
		return []string{fmt.Sprintf("GET %s: %v", url, err)}
	}
	resp.Body.Close()
	var out []string
	for _, h := range securityHeaders {
		if v := strings.Join(resp.Header.Values(h.name), ", "); !strings.Contains(v, h.want) {
			out = append(out, fmt.Sprintf("%s (%d): %s is %q, without %q", url, resp.StatusCode, h.name, v, h.want))
		}
	}
	return out
}

// tlsDial makes one handshake with the guest's port 443.
func tlsDial(ctx context.Context, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 15 * time.Second}, Config: cfg}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := d.DialContext(hctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState(), nil
}
