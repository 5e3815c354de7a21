package builders

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/ostal/ostal/images"
)

// stepBootstrapTree installs exactly the locked packages into a root tree
// with mmdebstrap, from a local repository holding only the locked .debs.
// The tree is cached by the image lock's digest, so changing a provisioned
// file does not install the packages again.
type stepBootstrapTree struct {
	CacheDir string
	Driver   Driver
}

func (s *stepBootstrapTree) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	lock, err := keyLock.get(state)
	if err != nil {
		return halt(state, err)
	}
	pkgs := lock.Sets[images.SetImage]
	dir := treeDir(s.CacheDir, images.SetImage, imageTreeKey(lock))
	reused, err := fillOnce(dir, func(tmp string) error {
		repo, preseed := tmp+".repo", tmp+".preseed"
		defer os.RemoveAll(repo)
		defer os.RemoveAll(preseed)
		if err := s.makeRepository(ctx, repo, pkgs); err != nil {
			return err
		}
		if err := writePreseed(preseed); err != nil {
			return err
		}
		say(state, "installing %d packages with mmdebstrap (a few minutes for a full image)", len(pkgs))
		cmd := mmdebstrapCommand(lock.Suite, tmp, repo, preseed, pkgs, lock.SourceDateEpoch())
		cmd.Output = &lineWriter{emit: func(l string) { say(state, "  %s", l) }}
		if err := s.Driver.Run(ctx, cmd); err != nil {
			return fmt.Errorf("install packages: %w", err)
		}
		return checkInstalled(tmp, pkgs)
	})
	if err != nil {
		return halt(state, err)
	}
	if reused {
		say(state, "root tree %s from cache", dir)
	}
	keyBaseTree.put(state, dir)
	return multistep.ActionContinue
}

func (s *stepBootstrapTree) Cleanup(multistep.StateBag) {}

// makeRepository links the locked .debs into a flat apt repository: since
// it holds nothing else, apt can only install the locked versions.
func (s *stepBootstrapTree) makeRepository(ctx context.Context, repo string, pkgs []images.Package) error {
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return fmt.Errorf("create local repository: %w", err)
	}
	for _, p := range pkgs {
		dst := filepath.Join(repo, filepath.Base(p.Filename))
		src, err := verifiedDeb(s.CacheDir, p)
		if err != nil {
			return err
		}
		if err := os.Link(src, dst); err != nil {
			return fmt.Errorf("add %s to the local repository: %w", p.Name, err)
		}
	}
	for _, index := range []string{"packages", "release"} {
		out, err := os.Create(filepath.Join(repo, strings.ToUpper(index[:1])+index[1:]+".tmp"))
		if err != nil {
			return fmt.Errorf("index local repository: %w", err)
		}
		err = s.Driver.Run(ctx, Command{Name: "apt-ftparchive", Args: []string{index, "."}, Dir: repo, Output: out})
		out.Close()
		if err != nil {
			return fmt.Errorf("index local repository: %w", err)
		}
		if err := os.Rename(out.Name(), strings.TrimSuffix(out.Name(), ".tmp")); err != nil {
			return fmt.Errorf("index local repository: %w", err)
		}
	}
	return nil
}

// mmdebstrapCommand installs pkgs into tree from repo; the files under
// preseed are copied in first, before any package (initramfsPreseed).
func mmdebstrapCommand(suite, tree, repo, preseed string, pkgs []images.Package, epoch int64) Command {
	names := make([]string, len(pkgs))
	for i, p := range pkgs {
		names[i] = p.Name
	}
	return Command{
		Name: "mmdebstrap",
		Args: []string{
			"--mode=root", "--variant=custom", "--format=directory",
			"--include=" + strings.Join(names, ","),
			`--aptopt=APT::Install-Recommends "false"`,
			// Manuals and docs are not read on a server; licences stay.
			"--dpkgopt=path-exclude=/usr/share/man/*",
			"--dpkgopt=path-exclude=/usr/share/doc/*",
			"--dpkgopt=path-include=/usr/share/doc/*/copyright",
			"--setup-hook=sync-in " + preseed + " /",
			suite, tree, "deb [trusted=yes] copy://" + repo + " ./",
		},
		Env:       []string{fmt.Sprintf("SOURCE_DATE_EPOCH=%d", epoch)},
		Contained: true,
	}
}

// checkInstalled compares dpkg's database in the tree with the lock.
func checkInstalled(tree string, want []images.Package) error {
	f, err := os.Open(filepath.Join(tree, "var/lib/dpkg/status"))
	if err != nil {
		return fmt.Errorf("read installed packages: %w", err)
	}
	defer f.Close()
	got := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var name, version, status string
	record := func() {
		if name != "" && status == "install ok installed" {
			got[name] = version
		}
		name, version, status = "", "", ""
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			record()
		case strings.HasPrefix(line, "Package: "):
			name = strings.TrimPrefix(line, "Package: ")
		case strings.HasPrefix(line, "Version: "):
			version = strings.TrimPrefix(line, "Version: ")
		case strings.HasPrefix(line, "Status: "):
			status = strings.TrimPrefix(line, "Status: ")
		}
	}
	record()
	var problems []string
	for _, p := range want {
		if v, ok := got[p.Name]; !ok || v != p.Version {
			problems = append(problems, fmt.Sprintf("%s %s (installed: %q)", p.Name, p.Version, v))
		}
		delete(got, p.Name)
	}
	for n, v := range got {
		problems = append(problems, fmt.Sprintf("%s %s is installed but not locked", n, v))
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("the tree does not hold exactly the locked packages: %s", strings.Join(problems, "; "))
	}
	return sc.Err()
}

// lineWriter passes a program's output on line by line.
type lineWriter struct {
	emit func(string)
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		if line := strings.TrimSpace(string(w.buf[:i])); line != "" {
			w.emit(line)
		}
		w.buf = w.buf[i+1:]
	}
}
