package harness

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAddChallengeRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, upstream, want string
	}{
		{"a challenge answer gets one", "POST", "/chalZ/abc", "", challengeRetryAfter},
		{"the CA's own is kept", "POST", "/chalZ/abc", "3", "3"},
		{"authorizations are left alone", "POST", "/authZ/abc", "", ""},
		{"so is the directory", "GET", "/dir", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{},
				Request: &http.Request{Method: tc.method, URL: &url.URL{Path: tc.path}}}
			if tc.upstream != "" {
				resp.Header.Set("Retry-After", tc.upstream)
			}
			assert.NoError(t, addChallengeRetryAfter(resp))
			assert.Equal(t, tc.want, resp.Header.Get("Retry-After"))
		})
	}
}
