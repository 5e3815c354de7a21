package checks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// As nginx's dav-ext module answers a Depth: 1 PROPFIND.
const nginxListing = `<?xml version="1.0" encoding="utf-8" ?>
<D:multistatus xmlns:D="DAV:">
<D:response><D:href>/check1a2b/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/check1a2b/ostal-check.txt</D:href><D:propstat><D:prop><D:resourcetype></D:resourcetype><D:getcontentlength>12</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/check1a2b/a%20folder/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
</D:multistatus>`

func TestDAVChildren(t *testing.T) {
	names, err := davChildren([]byte(nginxListing), "/check1a2b/")
	require.NoError(t, err)
	assert.Equal(t, []string{"a folder/", "ostal-check.txt"}, names)

	// Other servers answer with full URLs and another prefix.
	full := `<multistatus xmlns="DAV:"><response><href>https://files.d/check1a2b</href></response>
<response><href>https://files.d/check1a2b/x.txt</href><propstat><prop><resourcetype/></prop></propstat></response></multistatus>`
	names, err = davChildren([]byte(full), "/check1a2b/")
	require.NoError(t, err)
	assert.Equal(t, []string{"x.txt"}, names)

	_, err = davChildren([]byte(nginxListing), "/other/")
	assert.ErrorContains(t, err, "not directly in it")
	_, err = davChildren([]byte(`<multistatus xmlns="DAV:"></multistatus>`), "/x/")
	assert.ErrorContains(t, err, "does not describe /x/ itself")
	_, err = davChildren([]byte(`<html>Forbidden</html>`), "/x/")
	assert.ErrorContains(t, err, "does not describe")
	_, err = davChildren([]byte(`not xml`), "/x/")
	assert.ErrorContains(t, err, "not a WebDAV multistatus")
}

func TestStatusList(t *testing.T) {
	assert.Equal(t, "401", statusList([]int{401}))
	assert.Equal(t, "201 or 204", statusList([]int{201, 204}))
	assert.Equal(t, "200, 201 or 204", statusList([]int{200, 201, 204}))
}
