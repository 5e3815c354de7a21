package builders

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listingDriver answers a loader's --list with the given output.
func listingDriver(output func(tools string) string) *fakeDriver {
	return &fakeDriver{run: func(c Command) error {
		tools := filepath.Dir(filepath.Dir(filepath.Dir(c.Name))) // <tools>/usr/lib64/ld-linux-x86-64.so.2
		_, err := io.WriteString(c.Output, output(tools))
		return err
	}}
}

func TestCheckToolLibraries(t *testing.T) {
	tools := fakeToolsTree(t, "usr/sbin/mke2fs", "usr/sbin/mkfs.fat", "usr/bin/mmd", "usr/bin/mcopy", "usr/bin/grub-mkimage",
		"usr/sbin/sfdisk", "usr/bin/qemu-img")

	t.Run("every library from the tree", func(t *testing.T) {
		d := listingDriver(func(tools string) string {
			return fmt.Sprintf("\tlinux-vdso.so.1 (0x00007ffd)\n\tlibz.so.1 => %[1]s/usr/lib/x86_64-linux-gnu/libz.so.1 (0x1)\n"+
				"\t/lib64/ld-linux-x86-64.so.2 => %[1]s/usr/lib64/ld-linux-x86-64.so.2 (0x2)\n", tools)
		})
		require.NoError(t, checkToolLibraries(context.Background(), d, tools))
		assert.Len(t, d.commands(), len(toolPrograms), "every tool is checked")
		assert.Equal(t, tools+"/usr/lib64/ld-linux-x86-64.so.2 --list --library-path "+tools+"/usr/lib/x86_64-linux-gnu "+tools+"/usr/sbin/mke2fs",
			d.commandLines()[0])
	})

	t.Run("a library from the host", func(t *testing.T) {
		d := listingDriver(func(tools string) string {
			return fmt.Sprintf("\tlibc.so.6 => %s/usr/lib/x86_64-linux-gnu/libc.so.6 (0x1)\n\tlibzstd.so.1 => /lib/x86_64-linux-gnu/libzstd.so.1 (0x2)\n", tools)
		})
		err := checkToolLibraries(context.Background(), d, tools)
		require.EqualError(t, err, "tool mke2fs would load /lib/x86_64-linux-gnu/libzstd.so.1 from the host, not from the locked tools: "+
			"add the package that ships it to builders.ToolPackages and run `ostal lock`")
		assert.Len(t, d.commands(), 1, "the first offending tool stops the check")
	})

	t.Run("a tool missing from the tree", func(t *testing.T) {
		small := fakeToolsTree(t, "usr/sbin/mke2fs")
		d := listingDriver(func(string) string { return "" })
		err := checkToolLibraries(context.Background(), d, small)
		require.EqualError(t, err, "mkfs.fat is not in the tools tree "+small+": the tools lock set lacks its package")
	})
}

// TestCheckToolLibrariesWithRealLoader builds a tools tree from the host's
// own loader and libc and runs the real loader's --list on it.
func TestCheckToolLibrariesWithRealLoader(t *testing.T) {
	const hostLoader = "/lib64/ld-linux-x86-64.so.2"
	libc, _ := filepath.EvalSymlinks("/lib/x86_64-linux-gnu/libc.so.6")
	if runtime.GOARCH != "amd64" || libc == "" || !exists(hostLoader) || !exists("/bin/true") {
		t.Skip("needs an x86-64 glibc host")
	}
	tools := t.TempDir()
	copyTo := func(src, dst string, mode os.FileMode) {
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, b, mode))
	}
	copyTo(hostLoader, filepath.Join(tools, "usr/lib64/ld-linux-x86-64.so.2"), 0o755)
	copyTo(libc, filepath.Join(tools, "usr/lib/x86_64-linux-gnu/libc.so.6"), 0o644)
	for _, p := range toolPrograms {
		copyTo("/bin/true", filepath.Join(tools, "usr/bin", p), 0o755)
	}
	require.NoError(t, checkToolLibraries(context.Background(), &ExecDriver{}, tools))

	// Without libc in the tree, the loader falls back to the host's.
	require.NoError(t, os.Remove(filepath.Join(tools, "usr/lib/x86_64-linux-gnu/libc.so.6")))
	err := checkToolLibraries(context.Background(), &ExecDriver{}, tools)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tool mke2fs would load ")
	assert.Contains(t, err.Error(), "libc.so.6 from the host, not from the locked tools")
}
