package builders

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepConvertQcow2 compresses the raw disk into the build's qcow2, written
// under a temporary name and renamed when complete.
type stepConvertQcow2 struct {
	OutputDir string
	Driver    Driver

	tmp string
}

func (s *stepConvertQcow2) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	spec, err := keySpec.get(state)
	if err != nil {
		return halt(state, err)
	}
	disk, err := keyDisk.get(state)
	if err != nil {
		return halt(state, err)
	}
	tools, err := keyTools.get(state)
	if err != nil {
		return halt(state, err)
	}
	final := filepath.Join(s.OutputDir, spec.Name+".qcow2")
	s.tmp = tempName(final)
	if err := s.Driver.Run(ctx, qcow2Command(tools, disk, s.tmp, spec.Compression)); err != nil {
		return halt(state, fmt.Errorf("compress the disk: %w", err))
	}
	if err := os.Rename(s.tmp, final); err != nil {
		return halt(state, fmt.Errorf("move the image into place: %w", err))
	}
	s.tmp = ""
	if fi, err := os.Stat(final); err == nil {
		say(state, "%s: %s", final, humanBytes(fi.Size()))
	}
	keyImage.put(state, final)
	return multistep.ActionContinue
}

// Cleanup removes a half-written qcow2; a complete one is the build's
// output and stays.
func (s *stepConvertQcow2) Cleanup(multistep.StateBag) {
	if s.tmp != "" {
		os.Remove(s.tmp)
	}
}

// qcow2Command compresses every cluster and writes them in order (no -W):
// the same raw disk gives the same qcow2 bytes, whatever the threads do.
func qcow2Command(tools, raw, out, compression string) Command {
	return Command{Name: "qemu-img", Tools: tools, Args: []string{
		"convert", "-q", "-f", "raw", "-O", "qcow2", "-c", "-o", "compression_type=" + compression + ",cluster_size=65536", raw, out,
	}}
}
