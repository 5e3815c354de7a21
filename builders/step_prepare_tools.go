package builders

import (
	"context"
	"fmt"
	"os"

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
			if err := s.Driver.Run(ctx, extractCommand(debPath(s.CacheDir, p.SHA256), tmp)); err != nil {
				return fmt.Errorf("unpack tool package %s: %w", p.Name, err)
			}
		}
		return nil
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

func extractCommand(deb, dir string) Command {
	return Command{Name: "dpkg-deb", Args: []string{"--extract", deb, dir}}
}
