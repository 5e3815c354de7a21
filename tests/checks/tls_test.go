package checks

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ostal/ostal/provision"
)

func TestWebNames(t *testing.T) {
	site := Site{provision.Site{Names: map[string]string{"wiki": "wiki.d", "www": "www.d", "apex": "d", "ns": "ns1.d", "dav": "dav.d", "empty": ""}}}
	assert.Equal(t, []string{"d", "dav.d", "wiki.d", "www.d"}, webNames(site))
}

func TestRedirectsTo(t *testing.T) {
	const uri = "/ostal-check/a%20page?x=1&y=two"
	for _, c := range []struct {
		location string
		err      string
	}{
		{"https://wiki.d/ostal-check/a%20page?x=1&y=two", ""},
		{"https://WIKI.d:443/ostal-check/a%20page?x=1&y=two", ""},
		{"http://wiki.d/ostal-check/a%20page?x=1&y=two", "expected https://wiki.d" + uri},
		{"https://www.d/ostal-check/a%20page?x=1&y=two", "expected"},
		{"https://wiki.d/ostal-check/a%20page", "expected"},
		{"https://wiki.d/", "expected"},
		{"https://wiki.d:8443/ostal-check/a%20page?x=1&y=two", "expected"},
		{"", "expected"},
		{"%zz", "not a URL"},
	} {
		err := redirectsTo(c.location, "wiki.d", uri)
		if c.err == "" {
			assert.NoError(t, err, c.location)
		} else {
			assert.ErrorContains(t, err, c.err, c.location)
		}
	}
}
