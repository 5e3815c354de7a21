package builders

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeToolsTree makes an unpacked tools tree holding the named programs.
func fakeToolsTree(t *testing.T, programs ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range programs {
		path := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte("#!/bin/false\n"), 0o755))
	}
	return root
}

func TestResolveRunsToolsThroughTheirLoader(t *testing.T) {
	tools := fakeToolsTree(t, "usr/sbin/mke2fs", "usr/bin/qemu-img", "usr/sbin/sfdisk", "usr/bin/sfdisk")
	loader := filepath.Join(tools, "usr/lib64/ld-linux-x86-64.so.2")
	libs := filepath.Join(tools, "usr/lib/x86_64-linux-gnu")
	cases := []struct {
		name, program string
	}{
		{"mke2fs", "usr/sbin/mke2fs"},
		{"qemu-img", "usr/bin/qemu-img"},
		{"sfdisk", "usr/sbin/sfdisk"}, // sbin first
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name, args, err := Command{Name: c.name, Tools: tools, Args: []string{"-q", "x"}}.resolve()
			require.NoError(t, err)
			assert.Equal(t, loader, name)
			assert.Equal(t, []string{"--library-path", libs, filepath.Join(tools, c.program), "-q", "x"}, args)
		})
	}
}

func TestResolveMissingTool(t *testing.T) {
	tools := fakeToolsTree(t, "usr/bin/mtools")
	_, _, err := Command{Name: "mcopy", Tools: tools}.resolve()
	require.EqualError(t, err, "mcopy is not in the tools tree "+tools+": the tools lock set lacks its package")
}

func TestResolveHostProgram(t *testing.T) {
	name, args, err := Command{Name: "cp", Args: []string{"-a", "x", "y"}}.resolve()
	require.NoError(t, err)
	assert.Equal(t, "cp", name)
	assert.Equal(t, []string{"-a", "x", "y"}, args)
}

func sh(script string) Command { return Command{Name: "/bin/sh", Args: []string{"-c", script}} }

func TestExecDriverRunSuccess(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	c := sh(`echo "$OSTAL_TEST $LC_ALL $(pwd)"; cat; echo err >&2`)
	c.Env = []string{"OSTAL_TEST=hello"}
	c.Dir = dir
	c.Stdin = strings.NewReader("from stdin\n")
	c.Output = &out
	require.NoError(t, (&ExecDriver{}).Run(context.Background(), c))
	assert.Equal(t, "hello C.UTF-8 "+dir+"\nfrom stdin\nerr\n", out.String())
}

func TestExecDriverRunsWithDebiansPath(t *testing.T) {
	// A builder's PATH (pyenv's shims first, say) must not reach the
	// programs the build runs, nor the interpreters their scripts name.
	t.Setenv("PATH", "/root/.pyenv/shims:"+os.Getenv("PATH"))
	var out bytes.Buffer
	require.NoError(t, (&ExecDriver{}).Run(context.Background(), Command{Name: "/bin/sh", Args: []string{"-c", `echo "$PATH"`}, Output: &out}))
	assert.Equal(t, systemPath+"\n", out.String())
}

func TestExecDriverRunToolsEnvironment(t *testing.T) {
	// A tools command must not see the host's locale or time zone. The
	// tree's "loader" here is a shell script, so that it runs anywhere.
	tools := fakeToolsTree(t, "usr/bin/prog")
	loader := filepath.Join(tools, "usr/lib64/ld-linux-x86-64.so.2")
	require.NoError(t, os.MkdirAll(filepath.Dir(loader), 0o755))
	require.NoError(t, os.WriteFile(loader, []byte("#!/bin/sh\necho \"$LC_ALL $TZ $MTOOLSRC $MTOOLS_SKIP_CHECK $GCONV_PATH $*\"\n"), 0o755))
	var out bytes.Buffer
	err := (&ExecDriver{}).Run(context.Background(), Command{Name: "prog", Tools: tools, Args: []string{"a"}, Output: &out})
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("C UTC0 /dev/null 1 %s/usr/lib/x86_64-linux-gnu/gconv --library-path %s/usr/lib/x86_64-linux-gnu %s/usr/bin/prog a\n",
		tools, tools, tools), out.String())
}

func TestExecDriverRunFailureShowsOutputTail(t *testing.T) {
	err := (&ExecDriver{}).Run(context.Background(), sh(`for i in $(seq 1 40); do echo "line $i"; done; echo "mke2fs: bad thing" >&2; exit 3`))
	require.Error(t, err)
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "/bin/sh -c for i in"), msg)
	assert.Contains(t, msg, " failed: exit status 3\n")
	assert.True(t, strings.HasSuffix(msg, "\n    line 40\n    mke2fs: bad thing"), msg)
	assert.Contains(t, msg, "\n    line 27\n", "the last 15 lines are kept")
	assert.NotContains(t, msg, "line 26\n")
	assert.False(t, IsNoSpace(err))
}

func TestExecDriverRunNoSpace(t *testing.T) {
	err := (&ExecDriver{}).Run(context.Background(),
		sh(`echo "mke2fs: Could not allocate block in ext2 filesystem while populating file system"; echo "cp: error writing 'x': No space left on device" >&2; exit 1`))
	require.Error(t, err)
	assert.True(t, IsNoSpace(err))
	assert.True(t, IsNoSpace(fmt.Errorf("make the root filesystem: %w", err)), "still recognised when wrapped by a step")
	assert.Contains(t, err.Error(), "No space left on device")
}

func TestExecDriverRunMissingProgram(t *testing.T) {
	err := (&ExecDriver{}).Run(context.Background(), Command{Name: filepath.Join(t.TempDir(), "nope")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nope failed: ")
}

func TestExecDriverCancelStopsTheProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&ExecDriver{}).Run(ctx, sh(`sleep 30 & echo $! > `+pidFile+`; sleep 30`))
	}()
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	}, 5*time.Second, 5*time.Millisecond)

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		assert.Less(t, time.Since(start), 2*time.Second)
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.Canceled), err.Error())
		assert.Equal(t, "/bin/sh: context canceled", err.Error())
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	assert.Eventually(t, func() bool { return !running(pid) }, 2*time.Second, 10*time.Millisecond,
		"the background child %d of the cancelled command was stopped too", pid)
}

// running reports a live, non-zombie process.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestExecDriverDownload(t *testing.T) {
	body := strings.Repeat("deb", 100000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/debian/pool/a.deb" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()

	var got bytes.Buffer
	var last int64
	err := (&ExecDriver{}).Download(context.Background(), srv.URL+"/debian/pool/a.deb", &got, func(n int64) { last = n })
	require.NoError(t, err)
	assert.Equal(t, body, got.String())
	assert.Equal(t, int64(len(body)), last, "progress reaches the full size")

	err = (&ExecDriver{}).Download(context.Background(), srv.URL+"/debian/pool/gone.deb", &got, nil)
	var status *HTTPStatusError
	require.ErrorAs(t, err, &status)
	assert.Equal(t, http.StatusNotFound, status.Code)
	assert.Equal(t, "download "+srv.URL+"/debian/pool/gone.deb: 404 Not Found", err.Error())
}
