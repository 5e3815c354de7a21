package builders

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepScrubTree removes everything that is per-machine, per-run or secret,
// refuses a tree that still holds a secret, stamps every file with the
// lock's time, and lists the tree so that two builds can be compared file
// by file.
type stepScrubTree struct{}

// scrubbed are removed from the image (globs, relative to the root). Each
// is either generated on first boot (machine-id, host keys, random seed) or
// a trace of the build (logs, caches, apt lists, backup files).
var scrubbed = []string{
	"etc/ssh/ssh_host_*",
	"etc/ssl/private/ssl-cert-snakeoil.key", "etc/ssl/certs/ssl-cert-snakeoil.pem",
	"etc/resolv.conf", "etc/.pwd.lock",
	"etc/*-", "etc/*.dpkg-old", "etc/*.dpkg-dist",
	"var/lib/dbus/machine-id", "var/lib/systemd/random-seed", "var/lib/systemd/credential.secret",
	// apt's partial directory belongs to _apt or root depending on whether
	// apt could reach the local repository as _apt; apt recreates it.
	"var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/cache/apt/archives/partial",
	"var/cache/debconf/*-old", "var/lib/dpkg/*-old", "var/cache/ldconfig/aux-cache",
	"var/cache/man/*", "var/log/*.log", "var/log/apt/*", "var/log/journal/*",
	"var/log/lastlog", "var/log/wtmp", "var/log/btmp", "var/log/faillog",
	"tmp/*", "var/tmp/*", "root/.bash_history", "run/*",
	// ucf keeps a copy of each conffile a package generated: Mailman's
	// hold the random passwords and keys it made at install time. The
	// image's own files replace those conffiles; the secrets come from
	// the data volume.
	"var/lib/ucf/cache/*", "var/cache/debconf/passwords.dat",
	// ucf's copy of its hashfile from before the last change, with the
	// hashes of those same random conffiles (the hashfile itself is
	// rewritten: pinUcfHashes).
	"var/lib/ucf/hashfile.[0-9]*",
	// Berkeley DB of /etc/aliases that postfix's install made: unused
	// (Postfix reads its aliases as text, provision/lists), and its
	// bytes differ at each build.
	"etc/aliases.db",
}

// secretDirs are searched for private keys; /usr holds packaged files only,
// among them test keys that are public by nature.
var secretDirs = []string{"etc", "root", "home", "srv", "var/lib", "boot"}

func (s *stepScrubTree) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	w, err := getWork(state)
	if err != nil {
		return halt(state, err)
	}
	work, lock := w.dir, w.lock
	root := filepath.Join(work, "root")
	removed, err := scrub(root)
	if err != nil {
		return halt(state, err)
	}
	if err := pinUcfHashes(root); err != nil {
		return halt(state, err)
	}
	// An empty machine-id makes systemd treat the first boot as such and
	// give every machine its own id.
	machineID := filepath.Join(root, "etc/machine-id")
	os.Remove(machineID)
	if err := os.WriteFile(machineID, nil, 0o444); err != nil {
		return halt(state, fmt.Errorf("empty /etc/machine-id: %w", err))
	}
	if err := findSecrets(root); err != nil {
		return halt(state, err)
	}
	epoch := time.Unix(lock.SourceDateEpoch(), 0)
	listing := filepath.Join(work, "files.txt")
	if err := clampAndList(root, epoch, listing); err != nil {
		return halt(state, err)
	}
	keyTreeList.put(state, listing)
	say(state, "removed %d per-machine or build-time files; every file stamped %s", removed, epoch.UTC().Format(time.RFC3339))
	return multistep.ActionContinue
}

func (s *stepScrubTree) Cleanup(multistep.StateBag) {}

func scrub(root string) (int, error) {
	n := 0
	for _, g := range scrubbed {
		matches, err := filepath.Glob(filepath.Join(root, g))
		if err != nil {
			return n, fmt.Errorf("scrub %s: %w", g, err)
		}
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return n, fmt.Errorf("scrub %s: %w", m, err)
			}
			n++
		}
	}
	return n, nil
}

// findSecrets refuses private keys and password hashes in the tree.
func findSecrets(root string) error {
	var found []string
	for _, d := range secretDirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			if info, err := e.Info(); err != nil || info.Size() > 1<<20 {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
				found = append(found, "/"+strings.TrimPrefix(p, root+"/")+" holds a private key")
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("search for secrets: %w", err)
		}
	}
	for _, f := range []string{"etc/shadow", "etc/gshadow"} {
		users, err := passwordHolders(filepath.Join(root, f))
		if err != nil {
			return err
		}
		for _, u := range users {
			found = append(found, fmt.Sprintf("/%s: %s has a password hash", f, u))
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("the image would contain secrets, which belong on the data volume or are made on first boot: %s; "+
			"remove the file from files:, or add a first-boot unit that creates it", strings.Join(found, "; "))
	}
	return nil
}

// passwordHolders lists entries whose password field is a real hash rather
// than a lock marker (*, !, !!, empty).
func passwordHolders(path string) ([]string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	var users []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) > 1 && strings.HasPrefix(strings.TrimLeft(fields[1], "!"), "$") {
			users = append(users, fields[0])
		}
	}
	return users, sc.Err()
}

// clampAndList stamps every entry with epoch and writes a sorted listing:
// path, type and mode, owner, size and sha256 (or link target). The walk
// and the stamps are sequential; the hashing (1.4 GiB in 80,000 files for
// the full image, most of a warm rebuild's scrub) runs on listWorkers
// goroutines, so that reads overlap and every core hashes.
func clampAndList(root string, epoch time.Time, listing string) error {
	type entry struct {
		path, rel string
		info      fs.FileInfo
	}
	var entries []entry
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		entries = append(entries, entry{p, rel, info})
		return lchtimes(p, epoch)
	})
	if err != nil {
		return fmt.Errorf("stamp files: %w", err)
	}
	lines := make([]string, len(entries))
	errs := make([]error, len(entries))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < listWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				lines[i], errs[i] = describe(entries[i].path, entries[i].rel, entries[i].info)
			}
		}()
	}
	for i := range entries {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("list %s: %w", entries[i].rel, err)
		}
	}
	sort.Strings(lines)
	return os.WriteFile(listing, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// listWorkers hash files in parallel: more than the cores, since a file
// not in the page cache waits on the disk, not the CPU.
var listWorkers = 4 * runtime.NumCPU()

func describe(p, rel string, info fs.FileInfo) (string, error) {
	uid, gid := owner(info)
	head := fmt.Sprintf("%s %s %d:%d", rel, info.Mode(), uid, gid)
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		return head + " -> " + target, err
	case info.Mode().IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %d %s", head, info.Size(), hex.EncodeToString(h.Sum(nil))), nil
	}
	return head, nil
}
