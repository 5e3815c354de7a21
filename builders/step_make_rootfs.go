package builders

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/ostal/ostal/images"
)

// stepMakeRootfs makes the ext4 root filesystem straight from the tree with
// mke2fs -d: no mount, no loop device. Fixed UUID, hash seed and
// SOURCE_DATE_EPOCH make its bytes a function of the tree alone.
type stepMakeRootfs struct {
	Driver Driver
}

func (s *stepMakeRootfs) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	w, err := getWork(state)
	if err != nil {
		return halt(state, err)
	}
	spec, lock, work, tools := w.spec, w.lock, w.dir, w.tools
	diskBytes, err := images.DiskSizeBytes(spec.DiskSize)
	if err != nil {
		return halt(state, fmt.Errorf("%s: disk_size: %w", spec.Path, err))
	}
	out := filepath.Join(work, "root.ext4")
	cmd := mke2fsCommand(tools, filepath.Join(work, "root"), out, identityFor(spec.Name).RootFSUUID,
		rootfsBytes(diskBytes), lock.SourceDateEpoch())
	if err := s.Driver.Run(ctx, cmd); err != nil {
		return halt(state, fmt.Errorf("make the root filesystem (%s of disk_size %s): %w", humanBytes(rootfsBytes(diskBytes)), spec.DiskSize, err))
	}
	keyRootfs.put(state, out)
	return multistep.ActionContinue
}

// Cleanup: root.ext4 lives in the work directory, which
// stepProvisionTree removes.
func (s *stepMakeRootfs) Cleanup(multistep.StateBag) {}

func mke2fsCommand(tools, tree, out, uuid string, size, epoch int64) Command {
	return Command{
		Name:  "mke2fs",
		Tools: tools,
		Args: []string{"-t", "ext4", "-q", "-F", "-L", rootPartName, "-U", uuid,
			"-E", "hash_seed=" + uuid + ",root_owner=0:0", "-d", tree, out, fmt.Sprintf("%dK", size/1024)},
		Env: []string{
			fmt.Sprintf("SOURCE_DATE_EPOCH=%d", epoch),
			fmt.Sprintf("E2FSPROGS_FAKE_TIME=%d", epoch),
			"MKE2FS_CONFIG=" + filepath.Join(tools, "etc/mke2fs.conf"),
		},
	}
}
