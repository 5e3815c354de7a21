package harness

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// challengeRetryAfter is what the proxy in front of pebble tells the
// guest's lego to wait before it asks whether a challenge was validated.
// Let's Encrypt answers a challenge with a Retry-After; pebble 2.4 does
// not, and lego then waits 5 s (and backs off from there) although pebble,
// without its sleeps, has validated the challenge well within a second.
const challengeRetryAfter = "1"

// acmeProxy stands in front of pebble at the address the relay gives the
// guest: it serves pebble's own certificate, passes every request through
// unchanged (the Host header too, from which pebble builds its URLs), and
// adds the Retry-After that a production CA sends to the answers to
// challenge requests.
type acmeProxy struct {
	Listen string
	srv    *http.Server
}

// startACMEProxy listens on a free loopback port and forwards to the CA
// at upstream, whose server certificate is signed by the CA in caPEM.
func startACMEProxy(upstream string, cert tls.Certificate, caPEM []byte) (*acmeProxy, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("the test ACME CA's proxy: no certificate in the CA's PEM")
	}
	target := &url.URL{Scheme: "https", Host: upstream}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport:      &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: 8},
		ModifyResponse: addChallengeRetryAfter,
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return nil, fmt.Errorf("the test ACME CA's proxy: %w", err)
	}
	p := &acmeProxy{Listen: l.Addr().String(), srv: &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}}
	go p.srv.Serve(l)
	return p, nil
}

// addChallengeRetryAfter gives an answer to a POST on a challenge (pebble
// serves them under /chalZ/) a Retry-After, unless it has one.
func addChallengeRetryAfter(resp *http.Response) error {
	req := resp.Request
	if req != nil && req.Method == http.MethodPost && strings.HasPrefix(req.URL.Path, "/chalZ/") &&
		resp.Header.Get("Retry-After") == "" {
		resp.Header.Set("Retry-After", challengeRetryAfter)
	}
	return nil
}

// Stop closes the proxy's listener and its connections.
func (p *acmeProxy) Stop() {
	if p != nil && p.srv != nil {
		p.srv.Close()
	}
}
