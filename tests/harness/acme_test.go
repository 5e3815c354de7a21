package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTestCAServesADirectory(t *testing.T) {
	if _, err := exec.LookPath("pebble"); err != nil {
		t.Skip("pebble is not installed (make test-packages)")
	}
	ca, err := startTestCA(context.Background(), t.TempDir(), 1, 2)
	require.NoError(t, err)
	defer ca.Stop()
	assert.Equal(t, "https://127.0.0.1:14000/dir", ca.Directory)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca.CAPEM))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + ca.Listen + "/dir")
	require.NoError(t, err, "the ACME server's certificate verifies against the CA handed to the guest")
	defer resp.Body.Close()
	var dir map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&dir))
	assert.Contains(t, dir, "newOrder")
	// Through the proxy pebble still builds its URLs from the Host the
	// client asked for, as the guest's lego needs.
	assert.Equal(t, "https://"+ca.Listen+"/order-plz", dir["newOrder"])
	assert.NotNil(t, ca.roots, "the issuing root is known, to verify the guest's certificates")
}
