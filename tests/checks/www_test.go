package checks

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEmailsIn(t *testing.T) {
	assert.Empty(t, emailsIn([]byte(`{"name":"admin","link":"https:\/\/www.d.org\/author\/admin\/","logo":"img\/logo@2x.png"}`)))
	assert.Equal(t, []string{"root@utzqanil.d.org", "a.b+c@d-e.fr"},
		emailsIn([]byte(`{"email":"root@utzqanil.d.org"} mailto:a.b+c@d-e.fr`)))
}

func TestTestPNG(t *testing.T) {
	a, err := testPNG()
	require.NoError(t, err)
	b, err := testPNG()
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "two test images must differ, or MediaWiki finds a duplicate")
	img, err := png.Decode(bytes.NewReader(a))
	require.NoError(t, err)
	assert.Equal(t, 16, img.Bounds().Dx())
}
