package builders

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/images"
)

func fetchState(pkgs ...images.Package) multistep.StateBag {
	state := new(multistep.BasicStateBag)
	spec := &images.Spec{Name: "tiny", Mirror: "http://mirror.example/debian/"}
	keySpec.put(state, spec)
	keyLock.put(state, &images.Lock{Sets: map[string][]images.Package{images.SetImage: pkgs, images.SetTools: pkgs[:1]}})
	return state
}

func TestFetchDebsFillsTheCacheOnce(t *testing.T) {
	cache := t.TempDir()
	bash, udev := lockedPackage("bash", "5.2"), lockedPackage("udev", "257")
	d := &fakeDriver{download: func(url string, w io.Writer) error {
		name := strings.Split(filepath.Base(url), "_")[0]
		_, err := w.Write(debContent(name))
		return err
	}}
	step := &stepFetchDebs{CacheDir: cache, Driver: d}
	state := fetchState(bash, udev)
	require.Equal(t, multistep.ActionContinue, step.Run(context.Background(), state), state.Get("error"))
	assert.ElementsMatch(t, []string{"http://mirror.example/debian/pool/main/b/bash_5.2_amd64.deb",
		"http://mirror.example/debian/pool/main/u/udev_257_amd64.deb"}, d.downloads, "a package in both sets is fetched once")
	for _, p := range []images.Package{bash, udev} {
		b, err := os.ReadFile(debPath(cache, p.SHA256))
		require.NoError(t, err)
		assert.Equal(t, debContent(p.Name), b)
	}

	d.reset()
	require.Equal(t, multistep.ActionContinue, step.Run(context.Background(), fetchState(bash, udev)))
	assert.Empty(t, d.downloads, "cached .debs are not fetched again")
}

func TestFetchDebsRefusesOtherBytes(t *testing.T) {
	cache := t.TempDir()
	bash := lockedPackage("bash", "5.2")
	d := &fakeDriver{download: func(_ string, w io.Writer) error {
		_, err := w.Write([]byte("tampered"))
		return err
	}}
	state := fetchState(bash)
	require.Equal(t, multistep.ActionHalt, (&stepFetchDebs{CacheDir: cache, Driver: d}).Run(context.Background(), state))
	err := state.Get("error").(error)
	assert.Equal(t, "package bash 5.2 from http://mirror.example/debian/pool/main/b/bash_5.2_amd64.deb has sha256 "+
		"d121be3103007b41edf96f8262925f8c7d61894afe9a041843b631f69445bc57, the lock says "+bash.SHA256+
		": the mirror serves other bytes than its signed index says; check the mirror, or run `ostal lock` if the archive really changed", err.Error())
	assert.Empty(t, dirNames(t, filepath.Join(cache, "debs")), "nothing is left in the cache")
}

func TestFetchDebsVersionGoneFromMirror(t *testing.T) {
	cache := t.TempDir()
	bash := lockedPackage("bash", "5.2")
	d := &fakeDriver{download: func(url string, _ io.Writer) error {
		return &HTTPStatusError{URL: url, Status: "404 Not Found", Code: 404}
	}}
	state := fetchState(bash)
	require.Equal(t, multistep.ActionHalt, (&stepFetchDebs{CacheDir: cache, Driver: d}).Run(context.Background(), state))
	err := state.Get("error").(error)
	assert.Equal(t, "package bash 5.2 is neither in the cache ("+debPath(cache, bash.SHA256)+") nor on the mirror "+
		"(http://mirror.example/debian/pool/main/b/bash_5.2_amd64.deb): that version has left the mirror; "+
		"run `ostal lock` to move to the versions the mirror has now, or put the .deb with sha256 "+bash.SHA256+" into the cache", err.Error())
	assert.Empty(t, dirNames(t, filepath.Join(cache, "debs")))
}
