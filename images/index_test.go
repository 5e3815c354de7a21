package images

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseIndexReadsStanzas(t *testing.T) {
	idx := testIndex(t)
	assert.Equal(t, []string{"bash", "coreutils", "linux-image-amd64", "mediawiki", "nginx", "postfix"}, idx.Names(),
		"indented Description lines, even one that looks like a Package: field, are not packages")

	p, ok := idx.ByFilename("", "pool/main/m/mediawiki/mediawiki_1.43.1-1_all.deb")
	require.True(t, ok)
	assert.Equal(t, Package{
		Name: "mediawiki", Version: "1:1.43.1-1", Arch: "all",
		Filename:     "pool/main/m/mediawiki/mediawiki_1.43.1-1_all.deb",
		Size:         31415926,
		InstalledKiB: 112233,
		SHA256:       strings.Repeat("1", 64), PriorityLevel: "optional",
	}, *p)

	p, ok = idx.ByFilename("", "pool/main/p/postfix/postfix_3.10.5-1~deb13u1_amd64.deb")
	require.True(t, ok)
	assert.Equal(t, []string{"default-mta", "mail-transport-agent", "postfix-cdb"}, p.Provides, "versions are dropped from Provides")

	_, ok = idx.ByFilename("", "pool/main/n/nope/nope_1_all.deb")
	assert.False(t, ok)
}

func TestIndexHasRealAndVirtualPackages(t *testing.T) {
	idx := testIndex(t)
	for name, want := range map[string]bool{
		"mediawiki":            true,
		"postfix":              true,
		"mail-transport-agent": true, // provided by postfix, with a version
		"default-mta":          true,
		"postfix-cdb":          true, // last in the Provides list
		"exim4":                false,
		"mediawik":             false,
		"":                     false,
	} {
		assert.Equal(t, want, idx.Has(name), name)
	}
	assert.NotContains(t, idx.Names(), "mail-transport-agent", "virtual packages are not real names")
}

func TestIndexEssential(t *testing.T) {
	assert.Equal(t, []string{"bash", "coreutils"}, testIndex(t).Essential(), `"Essential: no" is not essential`)
}

func TestParseIndexKeepsEveryVersion(t *testing.T) {
	idx, err := ParseIndex(strings.NewReader(
		"Package: a\nVersion: 1\nFilename: pool/a_1.deb\n\n\n\nPackage: a\nVersion: 2\nFilename: pool/a_2.deb\nEssential: yes\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, idx.Names())
	assert.Equal(t, []string{"a"}, idx.Essential(), "one essential version makes the name essential")
	p1, ok1 := idx.ByFilename("", "pool/a_1.deb")
	p2, ok2 := idx.ByFilename("", "pool/a_2.deb")
	require.True(t, ok1)
	require.True(t, ok2)
	assert.Equal(t, "1", p1.Version)
	assert.Equal(t, "2", p2.Version)
}

func TestParseIndexEmpty(t *testing.T) {
	idx, err := ParseIndex(strings.NewReader(""))
	require.NoError(t, err)
	assert.Empty(t, idx.Names())
	assert.False(t, idx.Has("bash"))
}

func TestParseIndexErrorsNameTheLine(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"not a field":    {"Package: a\nVersion: 1\n\nthis is not a field\n", `packages index line 4: "this is not a field" is not a field`},
		"size":           {"Package: a\nSize: 12k\n", `packages index line 2: Size: strconv.ParseInt: parsing "12k": invalid syntax`},
		"installed size": {"Package: a\n\nPackage: b\nInstalled-Size: -\n", `packages index line 4: Installed-Size: strconv.ParseInt: parsing "-": invalid syntax`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseIndex(strings.NewReader(c.in))
			require.Error(t, err)
			assert.Equal(t, c.want, err.Error())
		})
	}
}
