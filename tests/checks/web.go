package checks

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ostal/ostal/provision"
)

// webTimeout bounds one HTTP exchange with the guest; under software
// emulation a PHP page can take tens of seconds.
const webTimeout = 90 * time.Second

// WebClient is an HTTP client that reaches the guest's web server under
// the names of its domain: it sends https://wiki.D/ to the forward of
// the guest's port 443 (and http:// to port 80), still naming wiki.D to
// TLS and verifying the certificate against the machine's roots. It
// follows redirects and keeps cookies; names outside the domain are
// refused, so no check ever leaves for the Internet.
func WebClient(m Machine) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: webTransport(m), Jar: jar, Timeout: webTimeout}
}

// WebClientNoRedirect is WebClient that returns redirects as they come
// instead of following them.
func WebClientNoRedirect(m Machine) *http.Client {
	c := WebClient(m)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func webTransport(m Machine) *http.Transport {
	domain := m.Domain()
	dialer := &net.Dialer{Timeout: 15 * time.Second}
	return &http.Transport{
		Proxy: nil, // never through a proxy of the host's environment
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			port, err := guestPort(domain, addr)
			if err != nil {
				return nil, err
			}
			host, err := m.Addr(port)
			if err != nil {
				return nil, fmt.Errorf("reach the guest's port %d for %s: %w", port, addr, err)
			}
			return dialer.DialContext(ctx, "tcp", host)
		},
		// ServerName is left empty: the transport sets it to the
		// request's host, which is the real name.
		TLSClientConfig:       &tls.Config{RootCAs: m.TLSRoots(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: webTimeout,
		IdleConnTimeout:       30 * time.Second,
	}
}

// guestPort says which guest port a dial of addr ("wiki.D:443") goes to,
// or why it must not be dialled at all.
func guestPort(domain, addr string) (int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	if !inDomainName(host, domain) {
		return 0, fmt.Errorf("%s is not a name of %s: the checks only reach the guest", host, domain)
	}
	switch port {
	case "443":
		return 443, nil
	case "80":
		return 80, nil
	}
	return 0, fmt.Errorf("%s: the guest's web server is reached on ports 80 and 443 only, not %s", addr, port)
}

// inDomainName reports whether name is domain or a name under it,
// ignoring case and a final dot.
func inDomainName(name, domain string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	return domain != "" && (name == domain || strings.HasSuffix(name, "."+domain))
}

// SiteURL is "https://host/path".
func SiteURL(m Machine, host, path string) string {
	return "https://" + host + "/" + strings.TrimPrefix(path, "/")
}

// Site is /etc/ostal/site.json, what the image was built to serve, as
// the builder wrote it.
type Site struct{ provision.Site }

// Name is the host name of a role, or an error naming the roles there are.
func (s Site) Name(role string) (string, error) {
	if n := s.Names[role]; n != "" {
		return n, nil
	}
	return "", fmt.Errorf("/etc/ostal/site.json has no %q in names; it has %s", role, sortedKeys(s.Names))
}

func siteInfo(ctx context.Context, m Machine) (Site, error) {
	out, err := m.Run(ctx, "cat /etc/ostal/site.json")
	if err != nil {
		return Site{}, fmt.Errorf("read /etc/ostal/site.json: %w", err)
	}
	return parseSite(out, m.Domain())
}

func parseSite(text, domain string) (Site, error) {
	var s Site
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return Site{}, fmt.Errorf("/etc/ostal/site.json is not the expected JSON object: %v; it starts %q", err, clip(text, 80))
	}
	// An image without services (tests' tiny) serves no domain.
	if s.Domain == "" && len(s.Services) > 0 {
		return Site{}, fmt.Errorf("/etc/ostal/site.json lists services %s but no domain", strings.Join(s.Services, ", "))
	}
	if domain != "" && !strings.EqualFold(strings.TrimSuffix(s.Domain, "."), strings.TrimSuffix(domain, ".")) {
		return Site{}, fmt.Errorf("/etc/ostal/site.json serves %s, but the machine is expected to serve %s", s.Domain, domain)
	}
	return s, nil
}

var secretName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// guestSecret reads one of the guest's secrets. Its value must never reach
// an error or a note.
func guestSecret(ctx context.Context, m Machine, name string) (string, error) {
	if !secretName.MatchString(name) {
		return "", fmt.Errorf("%q is not a secret's name", name)
	}
	out, err := m.Run(ctx, "/usr/lib/ostal/secret "+name)
	if err != nil {
		// Run's error carries the command and its standard error only.
		return "", fmt.Errorf("read the guest's secret %s: %w", name, err)
	}
	s := strings.TrimSpace(out)
	if s == "" || strings.ContainsAny(s, "\n\r") {
		return "", fmt.Errorf("/usr/lib/ostal/secret %s printed %d lines, expected one non-empty line", name, strings.Count(s, "\n")+1)
	}
	return s, nil
}

// member is a files and dav account that a check makes for itself.
type member struct {
	name, password string
}

// memberOf makes a member for the service of role ("files", "dav") and
// returns that service's host name with it.
func memberOf(ctx context.Context, m Machine, role string) (host string, mb member, remove func() error, err error) {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return "", mb, nil, err
	}
	if host, err = site.Name(role); err != nil {
		return "", mb, nil, err
	}
	mb, remove, err = addMember(ctx, m)
	return host, mb, remove, err
}

// addMember makes a member with a random name; remove takes it away
// again, even after the check's context has ended.
func addMember(ctx context.Context, m Machine) (mb member, remove func() error, err error) {
	mb.name = "check" + randomHex(2)
	out, err := m.Run(ctx, "ostal-member add "+mb.name)
	if err != nil {
		return member{}, nil, fmt.Errorf("make the member %s: %w", mb.name, err)
	}
	mb.password = strings.TrimSpace(out)
	remove = func() error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, err := m.Run(rctx, "ostal-member remove "+mb.name); err != nil {
			return fmt.Errorf("remove the member %s: %w", mb.name, err)
		}
		return nil
	}
	if mb.password == "" || strings.ContainsAny(mb.password, " \t\n\r") {
		remove()
		return member{}, nil, fmt.Errorf("`ostal-member add %s` printed %d lines, expected one line: the password", mb.name, strings.Count(mb.password, "\n")+1)
	}
	return mb, remove, nil
}

// hideSecrets replaces every secret in an error's text, in case a server
// echoed one back.
func hideSecrets(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	hidden := msg
	for _, s := range secrets {
		if len(s) >= 4 {
			hidden = strings.ReplaceAll(hidden, s, "[secret]")
		}
	}
	if hidden == msg {
		return err
	}
	return errors.New(hidden)
}

// webCall is one HTTP request, with basic credentials when user is set.
type webCall struct {
	Method, URL string
	Body        []byte
	Header      map[string]string
	User, Pass  string
}

// webResult is an answer, its body read (up to 4 MiB).
type webResult struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r webResult) String() string { return describe(r.Status, r.Body) }

func doWeb(ctx context.Context, c *http.Client, call webCall) (webResult, error) {
	var body io.Reader
	if call.Body != nil {
		body = bytes.NewReader(call.Body)
	}
	req, err := http.NewRequestWithContext(ctx, call.Method, call.URL, body)
	if err != nil {
		return webResult{}, err
	}
	for k, v := range call.Header {
		req.Header.Set(k, v)
	}
	if call.User != "" {
		req.SetBasicAuth(call.User, call.Pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		// url.Error names the method and URL; the URL never carries
		// credentials.
		return webResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return webResult{}, fmt.Errorf("%s %s: read the answer: %w", call.Method, call.URL, err)
	}
	return webResult{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// describe is a status and the start of a body, on one line.
func describe(status int, body []byte) string {
	s := strconv.Itoa(status) + " " + http.StatusText(status)
	if b := strings.Join(strings.Fields(string(body)), " "); b != "" {
		s += ": " + clip(b, 200)
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sortedKeys[V any](m map[string]V) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

// siteName is the host name of one role of the machine's site.
func siteName(ctx context.Context, m Machine, role string) (string, error) {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return "", err
	}
	return site.Name(role)
}
