// Package builders turns a locked image spec into a bootable, compressed
// qcow2. The Builder implements packer-plugin-sdk's packer.Builder, so the
// same code runs from `ostal build` and as a Packer plugin; Run is a
// multistep sequence, one file per step.
package builders

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// BuilderID names ostal's artifacts to Packer.
const BuilderID = "ostal.image"

// ToolPackages are the trixie packages whose programs make the disk. They
// are locked like the image's packages, so the bytes of an image depend on
// the lock, not on the build host's tool versions.
var ToolPackages = []string{"dosfstools", "e2fsprogs", "fdisk", "grub-common", "grub-efi-amd64-bin", "grub-pc-bin", "mtools", "qemu-utils"}

// Builder builds one image.
type Builder struct {
	Config Config
	// Driver reaches the outside world; nil means the real one.
	Driver Driver
	runner multistep.Runner
}

var _ packersdk.Builder = (*Builder)(nil)

func (b *Builder) ConfigSpec() hcldec.ObjectSpec { return b.Config.HCL2Spec() }

// Prepare decodes the configuration and validates spec and lock, so that a
// bad spec or a stale lock fails before anything is built.
func (b *Builder) Prepare(raws ...interface{}) ([]string, []string, error) {
	if err := b.Config.Prepare(raws...); err != nil {
		return nil, nil, err
	}
	if _, _, err := b.Config.loadInputs(); err != nil {
		return nil, nil, err
	}
	return nil, nil, nil
}

// Steps is the build, in order.
func (b *Builder) Steps() []multistep.Step {
	c := &b.Config
	d := b.Driver
	if d == nil {
		d = &ExecDriver{}
	}
	steps := []multistep.Step{
		&stepCheckLock{Config: c},
		&stepFetchDebs{CacheDir: c.CacheDir, Driver: d},
		&stepPrepareTools{CacheDir: c.CacheDir, Driver: d},
		&stepBootstrapTree{CacheDir: c.CacheDir, Driver: d},
		&stepProvisionTree{OutputDir: c.OutputDir, ProvisionDir: c.ProvisionDir, Driver: d},
		&stepScrubTree{},
		&stepMakeRootfs{Driver: d},
		&stepMakeESP{Driver: d},
		&stepAssembleDisk{Driver: d},
		&stepConvertQcow2{OutputDir: c.OutputDir, Driver: d},
		&stepWriteManifest{Config: c},
	}
	for i, s := range steps {
		steps[i] = &timedStep{step: s}
	}
	return steps
}

// Run builds the image and returns it as an artifact.
func (b *Builder) Run(ctx context.Context, ui packersdk.Ui, _ packersdk.Hook) (packersdk.Artifact, error) {
	state := new(multistep.BasicStateBag)
	keyUI.put(state, ui)
	keyTimings.put(state, &timings{})
	b.runner = &multistep.BasicRunner{Steps: b.Steps()}
	b.runner.Run(ctx, state)
	if raw, ok := state.GetOk("error"); ok {
		err, _ := raw.(error)
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("build cancelled: %w", ctx.Err())
	}
	m, err := keyManifest.get(state)
	if err != nil {
		return nil, err
	}
	image, err := keyImage.get(state)
	if err != nil {
		return nil, err
	}
	return &Artifact{Image: image, ManifestPath: manifestPath(b.Config.OutputDir, m.Name), Manifest: m}, nil
}

// IsNoSpace reports a build that failed because a disk was full.
func IsNoSpace(err error) bool { return errors.Is(err, ErrNoSpace) }
