package builders

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ostal/ostal/images"
)

// The cache directory holds content-addressed .debs and root trees keyed by
// lock digest. Everything in it can be deleted at any time.

func debPath(cacheDir, sha256 string) string {
	return filepath.Join(cacheDir, "debs", sha256+".deb")
}

func treeDir(cacheDir, set, digest string) string {
	return filepath.Join(cacheDir, "trees", set+"-"+digest[:16])
}

// tempName is a sibling of final that a run fills and then renames into
// place, so a killed run never leaves something that looks complete. The
// pid lets a later run tell a dead run's leftovers from a running one's.
func tempName(final string) string {
	return fmt.Sprintf("%s.tmp-%d", final, os.Getpid())
}

// removeStale deletes the temporary siblings that dead runs left in dir.
func removeStale(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for leftovers in %s: %w", dir, err)
	}
	for _, e := range entries {
		_, pidText, ok := strings.Cut(e.Name(), ".tmp-")
		if !ok {
			continue
		}
		// The pid may be followed by a suffix of the run's own (.repo).
		pidText, _, _ = strings.Cut(pidText, ".")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove leftover %s: %w", e.Name(), err)
		}
	}
	return nil
}

// processAlive: EPERM means the process exists but belongs to another
// user, whose temporary files are not ours to delete.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// fillOnce makes final by calling fill on a temporary sibling and renaming
// it into place; an existing final is reused as it is. It reports whether
// final was reused.
func fillOnce(final string, fill func(tmp string) error) (reused bool, err error) {
	if exists(final) {
		return true, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", filepath.Dir(final), err)
	}
	if err := removeStale(filepath.Dir(final)); err != nil {
		return false, err
	}
	tmp := tempName(final)
	if err := os.RemoveAll(tmp); err != nil {
		return false, fmt.Errorf("clear %s: %w", tmp, err)
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return false, err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return false, fmt.Errorf("move %s into place: %w", final, err)
	}
	return false, nil
}

// verifiedDeb returns the cached .deb of p after checking its bytes against
// the lock's sha256: the cache outlives builds, and a file damaged in it
// (a bad disk, a hand edit) must not go into an image. A damaged file is
// removed, so that the next build fetches it again.
func verifiedDeb(cacheDir string, p images.Package) (string, error) {
	path := debPath(cacheDir, p.SHA256)
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("the .deb of %s %s is not in the cache (%w): build again to fetch it", p.Name, p.Version, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read cached %s %s: %w", p.Name, p.Version, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		os.Remove(path)
		return "", fmt.Errorf("the cached .deb of %s %s (%s) has sha256 %s, the lock says %s: it was damaged in the cache. "+
			"It is removed now; build again to fetch it anew", p.Name, p.Version, path, got, p.SHA256)
	}
	return path, nil
}
