package build_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBadInput: each mistake a user makes gets a message naming the file,
// the field and the fix, a non-zero exit, and no image.
func TestBadInput(t *testing.T) {
	t.Run("unknown package", func(t *testing.T) {
		spec := writeSpec(t, strings.Replace(readFile(t, tinySpec), "  - udev\n", "  - udev\n  - mediawik\n", 1))
		code, _, errOut := ostal(t, "validate", "--cache", sharedCache(), "--provision", provisionDir, spec)
		expectFailure(t, code, errOut, spec+`: packages[4]: "mediawik" is not in trixie; did you mean "mediawiki"?`)
	})
	t.Run("unreachable mirror", func(t *testing.T) {
		spec := writeSpec(t, strings.Replace(readFile(t, tinySpec), "http://deb.debian.org/debian", "http://127.0.0.1:9/debian", 1))
		code, _, errOut := ostal(t, "lock", "--cache", t.TempDir(), "--provision", provisionDir, spec)
		expectFailure(t, code, errOut, spec+": mirror: cannot read suite \"trixie\" from \"http://127.0.0.1:9/debian\"")
		if _, err := os.Stat(strings.TrimSuffix(spec, ".yaml") + ".lock"); err == nil {
			t.Fatal("a lock was written although the mirror could not be read")
		}
	})
	t.Run("stale lock", func(t *testing.T) {
		spec := lockedSpec(t, tinySpec, nil)
		if err := os.WriteFile(spec, []byte(strings.Replace(readFile(t, spec), "  - udev\n", "  - udev\n  - less\n", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		code, _, errOut := ostal(t, "build", "--cache", sharedCache(), "--output", out, "--provision", provisionDir, spec)
		expectFailure(t, code, errOut, "the lock is stale: since it was written, added less; run `ostal lock "+spec+"`")
		expectEmpty(t, out)
	})
	t.Run("version gone from mirror and cache", func(t *testing.T) {
		spec := lockedSpec(t, tinySpec, nil)
		lock := strings.TrimSuffix(spec, ".yaml") + ".lock"
		// A locked version the mirror no longer has, and no cache has seen.
		gone := regexp.MustCompile(`(?m)^image adduser .*$`)
		text := gone.ReplaceAllString(readFile(t, lock),
			"image adduser 0.0-gone all 1000 1 - "+strings.Repeat("ab", 32)+" trixie pool/main/a/adduser/adduser_0.0-gone_all.deb")
		if err := os.WriteFile(lock, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		code, _, errOut := ostal(t, "build", "--cache", freshTreeCache(t), "--output", out, "--provision", provisionDir, spec)
		expectFailure(t, code, errOut, "package adduser 0.0-gone is neither in the cache")
		expectFailure(t, code, errOut, "run `ostal lock` to move to the versions the mirror has now")
		expectEmpty(t, out)
	})
}

// TestDiskFull: a build whose output disk fills up says where and how to
// fix it, and leaves no half-built files behind.
func TestDiskFull(t *testing.T) {
	spec := lockedSpec(t, tinySpec, nil)
	full := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "ostal-test-full", full).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (%v: %s)", err, out)
	}
	defer exec.Command("umount", full).Run()
	code, _, errOut := ostal(t, "build", "--cache", sharedCache(), "--output", full, "--provision", provisionDir, spec)
	expectFailure(t, code, errOut, "the disk ran out of space")
	expectFailure(t, code, errOut, "this image needs about")
	expectFailure(t, code, errOut, full)
	expectEmpty(t, full)
}

// TestInterruptedBuild stops a real ostal process in the middle of steps,
// by Ctrl-C and by kill -9, and expects no mount, process or temporary
// tree to outlive it; the next run then succeeds and reuses the caches.
func TestInterruptedBuild(t *testing.T) {
	bin := ostalBinary(t)
	spec := lockedSpec(t, tinySpec, nil)
	cache := freshTreeCache(t)
	out := t.TempDir()
	for _, c := range []struct {
		step   string
		after  time.Duration // into the step, so that its programs run
		signal syscall.Signal
	}{
		{"prepare tools", 0, syscall.SIGINT},
		{"bootstrap tree", 15 * time.Second, syscall.SIGINT},
		{"bootstrap tree", 15 * time.Second, syscall.SIGKILL},
		{"make rootfs", 0, syscall.SIGINT},
		{"convert qcow2", 0, syscall.SIGINT},
	} {
		t.Run(c.step+" "+c.signal.String(), func(t *testing.T) {
			interruptAt(t, bin, spec, cache, out, c.step, c.after, c.signal)
			time.Sleep(500 * time.Millisecond) // let the kernel reap namespaces
			expectNoLeftovers(t, cache, out, c.signal == syscall.SIGKILL)
		})
	}
	m := build(t, spec, cache, out)
	expectNoLeftovers(t, cache, out, false)
	t.Logf("rerun after interruptions: %s", m.Image.SHA256)
}

func interruptAt(t *testing.T, bin, spec, cache, out, step string, after time.Duration, sig syscall.Signal) {
	t.Helper()
	cmd := exec.Command(bin, "build", "--cache", cache, "--output", out, "--provision", provisionDir, spec)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log []string
	sc := bufio.NewScanner(stdout)
	signalled := false
	for sc.Scan() {
		log = append(log, sc.Text())
		if !signalled && sc.Text() == step {
			time.Sleep(after)
			cmd.Process.Signal(sig)
			signalled = true
		}
	}
	err = cmd.Wait()
	if !signalled {
		t.Fatalf("the build never reached step %q:\n%s", step, strings.Join(log, "\n"))
	}
	if err == nil {
		t.Fatalf("the build succeeded although interrupted at %q", step)
	}
	if _, err := os.Stat(filepath.Join(out, "tiny.qcow2")); err == nil && step != "convert qcow2" {
		t.Fatalf("an image exists after an interrupted build")
	}
}

// expectNoLeftovers: no mount below the cache or output, no process using
// them, and (unless the build was killed, when the next run cleans up) no
// temporary trees or work directories.
func expectNoLeftovers(t *testing.T, cache, out string, killed bool) {
	t.Helper()
	mounts := readFile(t, "/proc/self/mountinfo")
	for _, dir := range []string{cache, out} {
		if strings.Contains(mounts, dir) {
			t.Errorf("a mount below %s outlived the build:\n%s", dir, grepLines(mounts, dir))
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		b, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		root, _ := os.Readlink(filepath.Join(p, "root"))
		cwd, _ := os.Readlink(filepath.Join(p, "cwd"))
		for _, dir := range []string{cache, out} {
			if strings.Contains(cmdline, dir) || strings.HasPrefix(root, dir) || strings.HasPrefix(cwd, dir) {
				t.Errorf("a process outlived the build: %s (root %s, cwd %s)", cmdline, root, cwd)
			}
		}
	}
	if killed {
		return
	}
	for _, pattern := range []string{filepath.Join(cache, "trees", "*.tmp-*"), filepath.Join(cache, "debs", "*.tmp-*"),
		filepath.Join(out, ".work", "*"), filepath.Join(out, "*.tmp-*")} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			t.Errorf("temporary files outlived the build: %v", m)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeSpec(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func expectFailure(t *testing.T, code int, stderr, want string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("exit 0, want a failure saying %q", want)
	}
	if !strings.Contains(stderr, want) {
		t.Fatalf("the error does not say %q:\n%s", want, stderr)
	}
}

// expectEmpty: a failed build leaves nothing in its output folder but the
// (empty) work folder.
func expectEmpty(t *testing.T, dir string) {
	t.Helper()
	var left []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("a failed build left files behind: %v", left)
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
