package build_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReproducibleAndBootable builds the tiny image twice, the second time
// installing every package again into a fresh tree, and expects the same
// qcow2 bytes; then boots it under SeaBIOS and under OVMF.
func TestReproducibleAndBootable(t *testing.T) {
	spec := lockedSpec(t, tinySpec, nil)
	outA, outB := t.TempDir(), t.TempDir()
	a := build(t, spec, sharedCache(), outA)
	b := build(t, spec, freshTreeCache(t), outB)
	t.Logf("image %s: %d bytes, sha256 %s", a.Name, a.Image.Size, a.Image.SHA256)
	if a.Image.SHA256 != b.Image.SHA256 {
		t.Fatalf("two builds of the same spec and lock differ: %s and %s\n%s", a.Image.SHA256, b.Image.SHA256,
			explainDifference(a.Files.Path, b.Files.Path))
	}
	if len(a.Packages) == 0 || a.Spec.SHA256 == "" || a.Lock.SHA256 == "" || len(a.Steps) < 10 {
		t.Fatalf("manifest lacks packages, digests or step times: %+v", a)
	}
	image := filepath.Join(outA, "tiny.qcow2")
	t.Run("seabios", func(t *testing.T) { bootToReady(t, image, "bios") })
	t.Run("ovmf", func(t *testing.T) { bootToReady(t, image, "uefi") })
}

// explainDifference names the files whose content or metadata differ
// between two builds' listings; diffoscope, where installed, can then
// compare those files' contents.
func explainDifference(listA, listB string) string {
	a, errA := os.ReadFile(listA)
	b, errB := os.ReadFile(listB)
	if errA != nil || errB != nil {
		return fmt.Sprintf("cannot read the file listings: %v %v", errA, errB)
	}
	entries := func(text []byte) map[string]string {
		m := map[string]string{}
		for _, line := range strings.Split(string(text), "\n") {
			if path, rest, ok := strings.Cut(line, " "); ok {
				m[path] = rest
			}
		}
		return m
	}
	ea, eb := entries(a), entries(b)
	var diffs []string
	for p, v := range ea {
		if eb[p] != v {
			diffs = append(diffs, fmt.Sprintf("  %s: %q vs %q", p, v, eb[p]))
		}
	}
	for p := range eb {
		if _, ok := ea[p]; !ok {
			diffs = append(diffs, "  only in the second build: "+p)
		}
	}
	if len(diffs) == 0 {
		hint := "no file of the tree differs: the difference is in the filesystem, partition table or qcow2 encoding"
		if _, err := exec.LookPath("diffoscope"); err == nil {
			hint += "; compare the two qcow2 with diffoscope"
		}
		return hint
	}
	return "files that differ:\n" + strings.Join(diffs, "\n")
}
