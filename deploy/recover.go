package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Recover finishes a swap that its deployer left half done (killed, or
// its connection lost for good), so the guest never stays between two
// images. It returns the history line of what it finished, nil when
// there was nothing to finish.
//
//   - A swap that had not stopped the guest is undone: nothing was
//     touched, and the caller's own command decides what comes next.
//   - One that had is run on from the step its journal names, with the
//     same checks and the same rollback.
//   - One whose new image may have been serving for longer than the
//     health timeout is finished without reverting the disks: kept if it
//     is healthy, else the previous image comes back on today's data.
//
// A swap whose holder is alive is left alone and reported.
func (d *Deployer) Recover(ctx context.Context, st *State) (*Swap, error) {
	j := st.Journal
	if j == nil {
		// A lock without a swap is taken over (or refused) by the
		// command's own swap.
		return nil, nil
	}
	if err := d.preflight(); err != nil {
		return nil, fmt.Errorf("swap %s was interrupted at step %s, and finishing it needs: %w", j.ID, j.Step, err)
	}
	prev := st.Lock
	lastSign := j.Started
	if prev != nil {
		lastSign = prev.Beat
	}
	if err := d.takeOver(ctx, st); err != nil {
		return nil, err
	}
	j = st.Journal
	if err := d.checkDataVolumes(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("swap %s was interrupted at step %s and is not finished: %w", j.ID, j.Step, err), d.handBack(ctx, st, prev))
	}
	d.say("swap %s by %s was interrupted at step %s (last sign of life %s ago): finishing it",
		j.ID, lockHolder(prev), j.Step, d.since(lastSign).Round(time.Second))
	stopBeat := d.heartbeat(ctx, st)
	defer stopBeat()
	interrupted := fmt.Errorf("swap %s was interrupted at step %s", j.ID, j.Step)
	// The new image may have served since it booted, however recently its
	// deployer showed a sign of life: a deployer that died late in a long
	// health wait leaves an image that ran all along.
	// A rollback under way counts from the last sign of life: its health
	// wait failed at Booted plus the timeout, and its disks are still to
	// be reverted.
	serving := lastSign
	if !j.Booted.IsZero() && j.Step != StepRollback {
		serving = j.Booted
	}
	stale := d.since(serving) > d.Env.Health.TimeoutDuration()
	var sw *Swap
	var err error
	switch {
	case j.Stopped.IsZero():
		sw, err = d.undone(ctx, st, interrupted)
	case j.Step == StepCommit:
		sw, err = d.commit(ctx, st)
	case stale && (j.Step == StepStart || j.Step == StepHealth || j.Step == StepRollback && !j.Reverted):
		sw, err = d.finishStale(ctx, st, serving)
	case j.Step == StepRollback:
		sw, err = d.rollback(ctx, st, errors.New(j.Rollback))
	default:
		sw, err = d.resume(ctx, st, j.Step)
	}
	var rb *RolledBackError
	if errors.As(err, &rb) {
		d.say("%v", err)
		return sw, nil
	}
	return sw, err
}

// finishStale ends a swap whose new image may have served members since
// its deployer died: what it wrote is kept either way.
func (d *Deployer) finishStale(ctx context.Context, st *State, serving time.Time) (*Swap, error) {
	j := st.Journal
	if j.Step != StepRollback {
		if err := d.start(ctx); err != nil {
			return nil, err
		}
		if err := d.health(ctx, st, j.To); err == nil {
			return d.commit(ctx, st)
		}
	}
	reason := fmt.Sprintf("swap %s was interrupted with the new image possibly serving for %s; not healthy now, "+
		"so the previous image comes back, and the data written since is kept", j.ID, d.since(serving).Round(time.Minute))
	if err := d.record(ctx, st, func(s *State) { s.Journal.KeepData, s.Journal.Rollback = true, reason }); err != nil {
		return nil, err
	}
	return d.rollback(ctx, st, errors.New(reason))
}

// undone ends, as undone, a swap that never stopped the guest.
func (d *Deployer) undone(ctx context.Context, st *State, reason error) (*Swap, error) {
	err := d.undo(ctx, st, reason)
	var u *UndoneError
	if errors.As(err, &u) {
		d.say("%v", err)
		return u.Swap, nil
	}
	return nil, err
}

func lockHolder(l *Lock) string {
	if l == nil {
		return "an unknown deployer"
	}
	return l.Who
}
