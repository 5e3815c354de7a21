package build_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/tests/testutil"
)

// TestPackerPlugin runs images/utzqanil.pkr.hcl with a real Packer on the
// tiny spec: the plugin makes the same bytes as `ostal build`, Packer
// shows ostal's steps, its post-processors take the artifact, and Ctrl-C
// leaves nothing behind.
func TestPackerPlugin(t *testing.T) {
	packer := testutil.PackerBinary(t)
	plugins := testutil.PackerPlugin(t)
	spec := lockedSpec(t, tinySpec, nil)
	cache := sharedCache()
	want := build(t, spec, cache, t.TempDir())

	out := t.TempDir()
	cmd := packerBuild(packer, plugins, spec, cache, out)
	log, err := cmd.CombinedOutput()
	require.NoError(t, err, "packer build:\n%s", tail(string(log), 40))
	t.Logf("packer build:\n%s", tail(string(log), 25))

	var m builders.Manifest
	b, err := os.ReadFile(filepath.Join(out, "tiny.manifest.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, want.Image.SHA256, m.Image.SHA256, "packer build and ostal build of one spec and lock give one image")
	for _, step := range []string{"check lock", "bootstrap tree", "make rootfs", "convert qcow2"} {
		assert.Contains(t, string(log), "ostal.image: "+step, "Packer's UI shows ostal's steps")
	}

	var pm struct {
		Builds []struct {
			BuilderType string `json:"builder_type"`
			ArtifactID  string `json:"artifact_id"`
			Files       []struct{ Name string }
		}
	}
	b, err = os.ReadFile(filepath.Join(out, "packer-manifest.json"))
	require.NoError(t, err, "the manifest post-processor wrote its record")
	require.NoError(t, json.Unmarshal(b, &pm))
	require.Len(t, pm.Builds, 1)
	assert.Equal(t, "ostal", pm.Builds[0].BuilderType)
	assert.Equal(t, want.Image.SHA256, pm.Builds[0].ArtifactID)
	require.NotEmpty(t, pm.Builds[0].Files)
	assert.Equal(t, filepath.Join(out, "tiny.qcow2"), pm.Builds[0].Files[0].Name)
	sums, err := os.ReadFile(filepath.Join(out, "image.sha256"))
	require.NoError(t, err, "the checksum post-processor read the artifact's files")
	assert.Contains(t, string(sums), want.Image.SHA256)

	t.Run("interrupted", func(t *testing.T) {
		out := t.TempDir()
		cmd := packerBuild(packer, plugins, spec, cache, out)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = cmd.Stdout
		require.NoError(t, cmd.Start())
		var lines []string
		signalled := false
		for sc := bufio.NewScanner(stdout); sc.Scan(); {
			lines = append(lines, sc.Text())
			if !signalled && strings.HasSuffix(sc.Text(), "==> ostal.image: make rootfs") {
				// Ctrl-C: the terminal signals the whole process group
				// (Packer's panicwrap parent forwards no SIGINT to the
				// Packer it runs, and the plugin ignores its own).
				syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
				signalled = true
			}
		}
		err = cmd.Wait()
		t.Logf("packer build, interrupted:\n%s", strings.Join(lines, "\n"))
		require.True(t, signalled, "the build never reached make rootfs:\n%s", strings.Join(lines, "\n"))
		require.Error(t, err, "packer build succeeded although interrupted:\n%s", strings.Join(lines, "\n"))
		_, err = os.Stat(filepath.Join(out, "tiny.qcow2"))
		assert.True(t, os.IsNotExist(err), "an image exists after an interrupted build")
		expectNoLeftovers(t, cache, out, false)
		expectNoLeftovers(t, plugins, plugins, false) // the plugin's process is gone too
	})
}

// packerBuild is `packer build` of the checked-in template, from the top
// of the clone as the template expects, with the plugin found under
// plugins and Packer kept off the network (no update check).
func packerBuild(packer, plugins, spec, cache, out string) *exec.Cmd {
	cmd := exec.Command(packer, "build", "-color=false", "-var", "spec="+spec, "-var", "output_dir="+out, "-var", "cache_dir="+cache,
		"images/utzqanil.pkr.hcl")
	cmd.Dir = testutil.RepoRoot
	cmd.Env = append(os.Environ(), "PACKER_PLUGIN_PATH="+plugins, "CHECKPOINT_DISABLE=1",
		"PACKER_CONFIG_DIR="+filepath.Join(out, ".packer.d"))
	return cmd
}
