package builders

import (
	"context"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepCheckLock reads spec and lock and refuses a lock that no longer
// matches the spec, before anything is downloaded or built.
type stepCheckLock struct {
	Config *Config
}

func (s *stepCheckLock) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	spec, lock, err := s.Config.loadInputs()
	if err != nil {
		return halt(state, err)
	}
	keySpec.put(state, spec)
	keyLock.put(state, lock)
	say(state, "%s: %d packages, %d tools, Debian %s of %s", spec.Name,
		len(lock.Sets["image"]), len(lock.Sets["tools"]), lock.Suite, lock.ReleaseDate.Format("2006-01-02"))
	return multistep.ActionContinue
}

func (s *stepCheckLock) Cleanup(multistep.StateBag) {}
