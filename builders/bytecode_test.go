package builders

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pycHeader(flags, mtime, size uint32) []byte {
	h := make([]byte, pycHeaderLen, pycHeaderLen+4)
	copy(h, []byte{0xf3, 0x0d, 0x0d, 0x0a})
	binary.LittleEndian.PutUint32(h[4:], flags)
	binary.LittleEndian.PutUint32(h[8:], mtime)
	binary.LittleEndian.PutUint32(h[12:], size)
	return append(h, 0xe3, 0, 0, 0)
}

func TestRestampPyc(t *testing.T) {
	epoch := time.Unix(1750000000, 0)
	built := time.Unix(1700000000, 0)
	src := "print('hello')\n"
	for _, c := range []struct {
		name      string
		header    []byte
		noSource  bool
		want      pycResult
		wantMtime uint32
	}{
		{"valid timestamp pyc", pycHeader(0, uint32(built.Unix()), uint32(len(src))), false, pycKept, uint32(epoch.Unix())},
		{"compiled from another mtime", pycHeader(0, uint32(built.Unix())-1, uint32(len(src))), false, pycStale, uint32(built.Unix()) - 1},
		{"compiled from another size", pycHeader(0, uint32(built.Unix()), uint32(len(src))+1), false, pycStale, uint32(built.Unix())},
		{"no source", pycHeader(0, uint32(built.Unix()), uint32(len(src))), true, pycStale, uint32(built.Unix())},
		{"hash-based", pycHeader(3, 0x1234, 0x5678), false, pycHashed, 0x1234},
		{"truncated", []byte{1, 2, 3}, false, pycStale, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "__pycache__"), 0o755))
			pyc := filepath.Join(dir, "__pycache__", "m.cpython-313.pyc")
			require.NoError(t, os.WriteFile(pyc, c.header, 0o644))
			if !c.noSource {
				py := filepath.Join(dir, "m.py")
				require.NoError(t, os.WriteFile(py, []byte(src), 0o644))
				require.NoError(t, os.Chtimes(py, built, built))
			}
			r, err := restampPyc(pyc, pycSource(pyc), epoch)
			require.NoError(t, err)
			assert.Equal(t, c.want, r)
			b, err := os.ReadFile(pyc)
			require.NoError(t, err)
			if len(b) >= pycHeaderLen {
				assert.Equal(t, c.wantMtime, binary.LittleEndian.Uint32(b[8:12]))
				assert.Equal(t, c.header[12:], b[12:], "only the mtime may change")
			}
		})
	}
}

func TestPycSource(t *testing.T) {
	for pyc, src := range map[string]string{
		"/a/b/__pycache__/mod.cpython-313.pyc":       "/a/b/mod.py",
		"/a/b/__pycache__/mod.cpython-313.opt-1.pyc": "/a/b/mod.py",
		"/a/__pycache__/__init__.cpython-313.pyc":    "/a/__init__.py",
	} {
		assert.Equal(t, src, pycSource(pyc), pyc)
	}
}

// TestStampedBytecodeIsUsedByPython compiles a package with the host's
// Python, stamps the tree as the scrub step does, and asks Python whether
// it still loads the bytecode rather than compiling the source again.
func TestStampedBytecodeIsUsedByPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on this machine")
	}
	root := t.TempDir()
	pkg := filepath.Join(root, "pkg")
	require.NoError(t, os.MkdirAll(pkg, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(pkg, "__init__.py"), []byte("X = 1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(pkg, "mod.py"), []byte("Y = 2\n"), 0o644))
	out, err := exec.Command(python, "-m", "compileall", "-q", "--invalidation-mode", "timestamp", pkg).CombinedOutput()
	require.NoError(t, err, "%s", out)

	imports := func() string {
		cmd := exec.Command(python, "-v", "-B", "-c", "import pkg.mod")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "PYTHONPATH="+root, "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	epoch := time.Unix(1750000000, 0)
	n, err := restampBytecode(root, epoch)
	require.NoError(t, err)
	assert.Equal(t, bytecodeStamp{kept: 2}, n)
	require.NoError(t, clampAndList(root, epoch, filepath.Join(t.TempDir(), "files.txt")))
	log := imports()
	assert.Contains(t, log, filepath.Join(pkg, "__pycache__", "mod."))
	assert.NotContains(t, log, "bytecode is stale")

	// Without the restamp (the image before), Python finds it stale.
	require.NoError(t, clampAndList(root, epoch.Add(time.Hour), filepath.Join(t.TempDir(), "files.txt")))
	assert.True(t, strings.Contains(imports(), "bytecode is stale"), "a moved source time must make the bytecode stale")
}
