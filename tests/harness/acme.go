package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// AcmePort is where the guest reaches the test CA, through the relay
// (relay.go): its ACME directory is https://127.0.0.1:14000/dir.
const AcmePort = 14000

// testCA is a local ACME CA (Debian's pebble) for a boot test: the guest
// gets its certificates from it as it would from Let's Encrypt, and it
// checks the http-01 challenges against the guest's forwarded port 80,
// resolving every name to 127.0.0.1 (pebble-challtestsrv).
type testCA struct {
	Listen    string // host address of the ACME server, through its proxy (acmeproxy.go)
	Directory string // the directory URL as the guest sees it
	CAPEM     []byte // the root of the ACME server's own certificate
	roots     *x509.CertPool
	procs     []*exec.Cmd
	proxy     *acmeProxy
	startErrs []error
}

// startTestCA starts pebble with its DNS server; httpPort and tlsPort are
// the host forwards of the guest's ports 80 and 443.
func startTestCA(ctx context.Context, dir string, httpPort, tlsPort int) (*testCA, error) {
	for _, bin := range []string{"pebble", "pebble-challtestsrv"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("the boot test's ACME CA needs %s: install Debian's pebble package (make test-packages)", bin)
		}
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	acme, mgmt, dnsPort, dnsMgmt := ports[0], ports[1], ports[2], ports[3]
	pebbleAddr := fmt.Sprintf("127.0.0.1:%d", acme)
	ca := &testCA{Directory: fmt.Sprintf("https://127.0.0.1:%d/dir", AcmePort)}
	certFile, keyFile := filepath.Join(dir, "pebble-cert.pem"), filepath.Join(dir, "pebble-key.pem")
	if ca.CAPEM, err = serverCert(certFile, keyFile); err != nil {
		return nil, err
	}
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": pebbleAddr, "managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate": certFile, "privateKey": keyFile, "httpPort": httpPort, "tlsPort": tlsPort,
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
	}}
	cfgFile := filepath.Join(dir, "pebble.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "acme-ca.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnsPort)
	ca.start(logf, nil, "pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-dns01", dnsAddr, "-http01", "", "-https01", "", "-tlsalpn01", "",
		"-management", fmt.Sprintf("127.0.0.1:%d", dnsMgmt))
	// No sleeps between validations, and no refused nonces: the CA is
	// strict where the guest is concerned, not slow.
	ca.start(logf, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"},
		"pebble", "-config", cfgFile, "-dnsserver", dnsAddr)
	if err := errors.Join(ca.startErrs...); err != nil {
		ca.Stop()
		return nil, fmt.Errorf("start the test ACME CA: %w", err)
	}
	if ca.roots, err = ca.fetchRoots(ctx, mgmt); err != nil {
		ca.Stop()
		return nil, fmt.Errorf("the test ACME CA did not come up (see %s): %w", logf.Name(), err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		ca.Stop()
		return nil, fmt.Errorf("the test ACME CA's proxy: %w", err)
	}
	if ca.proxy, err = startACMEProxy(pebbleAddr, cert, ca.CAPEM); err != nil {
		ca.Stop()
		return nil, err
	}
	ca.Listen = ca.proxy.Listen
	return ca, nil
}

func (ca *testCA) start(log io.Writer, env []string, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), env...)
	// The CA dies with the test, even a killed one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		ca.startErrs = append(ca.startErrs, fmt.Errorf("%s: %w", name, err))
		return
	}
	ca.procs = append(ca.procs, cmd)
}

// fetchRoots asks pebble for the root it issues from, once it answers.
func (ca *testCA) fetchRoots(ctx context.Context, mgmt int) (*x509.CertPool, error) {
	own := x509.NewCertPool()
	own.AppendCertsFromPEM(ca.CAPEM)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: own}}}
	var last error
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmt), nil)
		resp, err := c.Do(req)
		if err != nil {
			last = err
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pool := x509.NewCertPool()
		if resp.StatusCode != 200 || !pool.AppendCertsFromPEM(b) {
			last = fmt.Errorf("roots/0 answered %s", resp.Status)
			continue
		}
		return pool, nil
	}
	return nil, last
}

// Stop ends the CA's processes.
func (ca *testCA) Stop() {
	ca.proxy.Stop()
	for _, p := range ca.procs {
		if p.Process != nil {
			p.Process.Kill()
			p.Wait()
		}
	}
}

// serverCert makes a throwaway CA and the ACME server's certificate for
// the addresses the guest and the host use; it returns the CA's PEM.
func serverCert(certFile, keyFile string) ([]byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ostal test ACME server CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ostal test ACME server"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}
