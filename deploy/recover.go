package deploy

import (
	"context"
	"errors"
	"fmt"
)

// Recover finishes a swap that its deployer left half done (killed, or
// its connection lost for good): it runs the swap on from the step its
// journal names, with the same checks and the same rollback, so the guest
// never stays between two images. A swap whose holder is alive is left
// alone and reported.
func (d *Deployer) Recover(ctx context.Context, st *State) error {
	if st.Lock != nil && d.alive(st.Lock) {
		if st.Journal != nil {
			return &LockedError{Lock: st.Lock}
		}
		return nil
	}
	j := st.Journal
	if j == nil {
		if st.Lock != nil {
			return d.record(ctx, st, func(s *State) { s.Lock = nil })
		}
		return nil
	}
	if err := d.preflight(); err != nil {
		return fmt.Errorf("swap %s was interrupted at step %s, and finishing it needs: %w", j.ID, j.Step, err)
	}
	d.say("swap %s by %s was interrupted at step %s: finishing it", j.ID, lockHolder(st), j.Step)
	if err := d.record(ctx, st, func(s *State) { s.Lock = d.newLock() }); err != nil {
		return err
	}
	stopBeat := d.heartbeat(ctx, st)
	defer stopBeat()
	var err error
	switch j.Step {
	case StepCommit:
		_, err = d.commit(ctx, st)
	case StepRollback:
		_, err = d.rollback(ctx, st, errors.New(j.Rollback))
	case StepLock:
		_, err = d.resume(ctx, st, StepOverlay)
	default:
		_, err = d.resume(ctx, st, j.Step)
	}
	// The interrupted swap is over; how it ended is in the history.
	var rb *RolledBackError
	if errors.As(err, &rb) {
		d.say("%v", err)
		return nil
	}
	return err
}

func lockHolder(st *State) string {
	if st.Lock == nil {
		return "an unknown deployer"
	}
	return st.Lock.Who
}
