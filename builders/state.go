package builders

import (
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/ostal/ostal/images"
)

// key is a typed name in the state bag: steps exchange values only through
// these, so that a missing or mistyped value is an error, not a panic.
type key[T any] string

func (k key[T]) put(s multistep.StateBag, v T) { s.Put(string(k), v) }

func (k key[T]) get(s multistep.StateBag) (T, error) {
	var zero T
	raw, ok := s.GetOk(string(k))
	if !ok {
		return zero, fmt.Errorf("internal: %s was not set by an earlier step", string(k))
	}
	v, ok := raw.(T)
	if !ok {
		return zero, fmt.Errorf("internal: %s holds %T, not %T", string(k), raw, zero)
	}
	return v, nil
}

// The values steps hand to later steps.
const (
	keyUI       key[UI]           = "ui"
	keySpec     key[*images.Spec] = "spec"
	keyLock     key[*images.Lock] = "lock"
	keyTimings  key[*timings]     = "timings"
	keyTools    key[string]       = "tools_tree"
	keyBaseTree key[string]       = "base_tree"
	keyWorkDir  key[string]       = "work_dir"
	keyRootfs   key[string]       = "rootfs_image"
	keyESP      key[string]       = "esp_image"
	keyDisk     key[string]       = "disk_image"
	keyImage    key[string]       = "qcow2_image"
	keyTreeList key[string]       = "tree_listing"
	keyManifest key[*Manifest]    = "manifest"
)

// halt is the one way a step stops the build: the error goes where the
// builder's Run finds it, and the UI says it once.
func halt(state multistep.StateBag, err error) multistep.StepAction {
	state.Put("error", err)
	return multistep.ActionHalt
}

// workInputs are what the steps after provisioning all read: spec, lock,
// the work directory and the tools tree.
type workInputs struct {
	spec  *images.Spec
	lock  *images.Lock
	dir   string
	tools string
}

func getWork(state multistep.StateBag) (w workInputs, err error) {
	if w.spec, err = keySpec.get(state); err != nil {
		return w, err
	}
	if w.lock, err = keyLock.get(state); err != nil {
		return w, err
	}
	if w.dir, err = keyWorkDir.get(state); err != nil {
		return w, err
	}
	w.tools, err = keyTools.get(state)
	return w, err
}
