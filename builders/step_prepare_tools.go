package builders

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/ostal/ostal/images"
)

// stepPrepareTools unpacks the locked tool packages (mke2fs, grub, mtools,
// qemu-img...) into a tree cached by the tools lock digest. The tools run
// from there through their own dynamic loader: no chroot, no host versions.
type stepPrepareTools struct {
	CacheDir string
	Driver   Driver
}

func (s *stepPrepareTools) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	lock, err := keyLock.get(state)
	if err != nil {
		return halt(state, err)
	}
	dir := treeDir(s.CacheDir, images.SetTools, lock.Digest(images.SetTools))
	reused, err := fillOnce(dir, func(tmp string) error {
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return fmt.Errorf("create tools tree: %w", err)
		}
		for _, p := range lock.Sets[images.SetTools] {
			deb, err := verifiedDeb(s.CacheDir, p)
			if err != nil {
				return err
			}
			if err := s.Driver.Run(ctx, extractCommand(deb, tmp)); err != nil {
				return fmt.Errorf("unpack tool package %s: %w", p.Name, err)
			}
		}
		return checkToolLibraries(ctx, s.Driver, tmp)
	})
	if err != nil {
		return halt(state, err)
	}
	if reused {
		say(state, "tools tree %s from cache", dir)
	} else {
		say(state, "unpacked %d tool packages into %s", len(lock.Sets[images.SetTools]), dir)
	}
	keyTools.put(state, dir)
	return multistep.ActionContinue
}

func (s *stepPrepareTools) Cleanup(multistep.StateBag) {}

// toolPrograms are the programs the build runs from the tools tree.
var toolPrograms = []string{"mke2fs", "mkfs.fat", "mmd", "mcopy", "grub-mkimage", "sfdisk", "qemu-img"}

// checkToolLibraries makes sure every library a tool loads comes from the
// tools tree: the dynamic loader silently falls back to the host's
// libraries for one the tree lacks, and the bytes would then depend on the
// host.
func checkToolLibraries(ctx context.Context, d Driver, tools string) error {
	for _, prog := range toolPrograms {
		var out bytes.Buffer
		loader, args, err := Command{Name: prog, Tools: tools}.resolve()
		if err != nil {
			return err
		}
		if err := d.Run(ctx, Command{Name: loader, Args: append([]string{"--list"}, args...), Output: &out}); err != nil {
			return fmt.Errorf("list the libraries of %s: %w", prog, err)
		}
		for _, line := range strings.Split(out.String(), "\n") {
			_, lib, ok := strings.Cut(line, "=> ")
			lib, _, _ = strings.Cut(lib, " (")
			if ok && !strings.HasPrefix(lib, tools+"/") {
				return fmt.Errorf("tool %s would load %s from the host, not from the locked tools: add the package that ships it to builders.ToolPackages and run `ostal lock`", prog, strings.TrimSpace(lib))
			}
		}
	}
	return nil
}

func extractCommand(deb, dir string) Command {
	return Command{Name: "dpkg-deb", Args: []string{"--extract", deb, dir}}
}
