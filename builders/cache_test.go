package builders

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFillOnceFillsThroughATemporaryName(t *testing.T) {
	final := filepath.Join(t.TempDir(), "trees", "image-0123")
	var seen string
	reused, err := fillOnce(final, func(tmp string) error {
		seen = tmp
		assert.NoDirExists(t, final, "final does not exist while it is being filled")
		require.NoError(t, os.MkdirAll(filepath.Join(tmp, "etc"), 0o755))
		return os.WriteFile(filepath.Join(tmp, "etc", "hostname"), []byte("tiny\n"), 0o644)
	})
	require.NoError(t, err)
	assert.False(t, reused)
	assert.Equal(t, fmt.Sprintf("%s.tmp-%d", final, os.Getpid()), seen)
	assert.NoDirExists(t, seen)
	assert.FileExists(t, filepath.Join(final, "etc", "hostname"))

	reused, err = fillOnce(final, func(string) error {
		t.Fatal("fill is not called when final exists")
		return nil
	})
	require.NoError(t, err)
	assert.True(t, reused)
	assert.Equal(t, []string{"image-0123"}, dirNames(t, filepath.Dir(final)))
}

func TestFillOnceErrorLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "image-0123")
	boom := errors.New("mmdebstrap failed")
	reused, err := fillOnce(final, func(tmp string) error {
		require.NoError(t, os.MkdirAll(filepath.Join(tmp, "usr"), 0o755))
		return boom
	})
	assert.ErrorIs(t, err, boom)
	assert.False(t, reused)
	assert.Empty(t, dirNames(t, dir), "neither final nor the half-filled temporary remains")

	// The next run fills again.
	called := false
	_, err = fillOnce(final, func(tmp string) error { called = true; return os.Mkdir(tmp, 0o755) })
	require.NoError(t, err)
	assert.True(t, called)
}

func TestFillOnceClearsLeftovers(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "image-0123")
	own := tempName(final)
	dead := fmt.Sprintf("%s.tmp-%d", filepath.Join(dir, "image-4567"), deadPid(t))
	require.NoError(t, os.MkdirAll(filepath.Join(own, "stale"), 0o755)) // an earlier attempt of this process
	require.NoError(t, os.MkdirAll(filepath.Join(dead, "usr"), 0o755))
	_, err := fillOnce(final, func(tmp string) error {
		assert.NoDirExists(t, filepath.Join(tmp, "stale"), "fill starts from an empty temporary")
		return os.Mkdir(tmp, 0o755)
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"image-0123"}, dirNames(t, dir))
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	dead := deadPid(t)
	live := exec.Command("sleep", "30")
	require.NoError(t, live.Start())
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })

	files := map[string]bool{ // name: kept
		fmt.Sprintf("abc.deb.tmp-%d", dead):             false,
		fmt.Sprintf("image-0123.tmp-%d", dead):          false,
		fmt.Sprintf("abc.deb.tmp-%d", os.Getpid()):      true,
		fmt.Sprintf("def.deb.tmp-%d", live.Process.Pid): true,
		"abc.deb":         true,
		"notes.tmp-later": true,
		fmt.Sprintf("image-4567.tmp-%d.repo", os.Getpid()): true,
	}
	for name := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, fmt.Sprintf("tree.tmp-%d", dead), "etc"), 0o755))
	files[fmt.Sprintf("tree.tmp-%d", dead)] = false

	require.NoError(t, removeStale(dir))
	var want []string
	for name, kept := range files {
		if kept {
			want = append(want, name)
		}
	}
	assert.ElementsMatch(t, want, dirNames(t, dir))
}

func TestRemoveStaleMissingDir(t *testing.T) {
	require.NoError(t, removeStale(filepath.Join(t.TempDir(), "nope")))
}

func TestRemoveStaleRemovesRepositoryOfDeadRun(t *testing.T) {
	dir := t.TempDir()
	repo := fmt.Sprintf("image-0123.tmp-%d.repo", deadPid(t))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, repo), 0o755))
	require.NoError(t, removeStale(dir))
	assert.Empty(t, dirNames(t, dir))
}

func TestRemoveStaleKeepsOtherUsersRuns(t *testing.T) {
	dir := t.TempDir()
	name := "abc.deb.tmp-1" // pid 1 runs, as root
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
	require.NoError(t, removeStale(dir))
	assert.Equal(t, []string{name}, dirNames(t, dir))
}
