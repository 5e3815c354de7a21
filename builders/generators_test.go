package builders

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/images"
)

// TestMaskGenerators: each generator is a link to /dev/null in /etc, also
// where the tree already had a file of that name (a rebuild's).
func TestMaskGenerators(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/systemd/system-generators")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b-generator"), []byte("#!/bin/sh\n"), 0o755))

	require.NoError(t, maskGenerators(root, []string{"a-generator", "b-generator"}))
	for _, n := range []string{"a-generator", "b-generator"} {
		to, err := os.Readlink(filepath.Join(dir, n))
		require.NoError(t, err, n)
		assert.Equal(t, "/dev/null", to, n)
	}
	assert.Error(t, maskGenerators(root, []string{"../x"}))
}

// TestEveryImageMasksTheSSHGenerator: it probes for AF_VSOCK, which no VM
// of ostal's has, and says it failed on the console of every boot; tiny
// images (no services) mask it too.
func TestEveryImageMasksTheSSHGenerator(t *testing.T) {
	for _, services := range [][]string{nil, {"ssh"}} {
		spec := &images.Spec{Services: services}
		assert.Contains(t, spec.AllMaskedGenerators(), "systemd-ssh-generator", services)
		assert.Contains(t, spec.AllMasked(), "systemd-binfmt.service", services)
	}
}
