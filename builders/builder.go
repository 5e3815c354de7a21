// Package builders turns a locked image spec into a bootable, compressed
// qcow2. Build is a multistep sequence, one file per step; the same
// Builder runs from `ostal build` and, wrapped by builders/packerplugin,
// as a Packer plugin. This package does not import Packer's SDK beyond
// multistep: its UI is an interface Packer's Ui satisfies, and so ostal
// itself does not link the SDK's template engine and the cloud SDKs it
// pulls in.
package builders

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
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

// Prepare applies the defaults and validates spec and lock, so that a bad
// spec or a stale lock fails before anything is built.
func (b *Builder) Prepare() error {
	b.Config.ApplyDefaults()
	if b.Config.Spec == "" {
		return fmt.Errorf("builder configuration: spec: missing; name the image spec, e.g. images/utzqanil.yaml")
	}
	_, _, err := b.Config.loadInputs()
	return err
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

// Build builds the image and returns it as an artifact.
func (b *Builder) Build(ctx context.Context, ui UI) (*Artifact, error) {
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
