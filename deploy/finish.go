package deploy

import (
	"context"
	"errors"
	"fmt"
)

// RolledBackError is a swap that ended with the previous image back.
type RolledBackError struct {
	Domain string
	Swap   *Swap
	Reason error
}

func (e *RolledBackError) Error() string {
	return fmt.Sprintf("swap %s did not finish, so %s runs its previous image again, with its data as before the swap: %v", e.Swap.ID, e.Domain, e.Reason)
}

func (e *RolledBackError) Unwrap() error { return e.Reason }

// commit makes the swap's image current and ends the swap.
func (d *Deployer) commit(ctx context.Context, st *State) (*Swap, error) {
	ctx = context.WithoutCancel(ctx)
	if err := d.begin(ctx, st, StepCommit); err != nil {
		return nil, err
	}
	j := st.Journal
	if err := d.openToPublic(ctx, st); err != nil {
		return nil, fmt.Errorf("swap %s: %s is healthy, but could not be committed: %w; it serves SSH and DNS only, "+
			"and the next `ostal deploy` command (status shows the swap) finishes the commit", j.ID, d.Env.Domain, err)
	}
	sw := d.historyLine(j, ResultOK, "")
	err := d.record(ctx, st, func(s *State) {
		to := j.To
		to.Since = d.clock.Now().UTC()
		if s.Current != nil && s.Current.Digest != to.Digest {
			s.Previous = s.Current
		}
		s.Current = &to
		s.History = append(s.History, sw)
		s.Journal, s.Lock = nil, nil
	})
	if err != nil {
		return nil, err
	}
	d.say("%s runs %s; the tools were down for %.0f s", d.Env.Domain, describe(&j.To), sw.Downtime)
	return &sw, nil
}

// rollback puts back the image and the data of before the swap. It runs
// to its end even if the caller gave up: half a rollback is the one thing
// worse than none.
func (d *Deployer) rollback(ctx context.Context, st *State, reason error) (*Swap, error) {
	ctx = context.WithoutCancel(ctx)
	j := st.Journal
	if j.From == nil {
		return d.failFirst(ctx, st, reason)
	}
	d.say("rolling back to %s: %v", describe(j.From), reason)
	if err := d.record(ctx, st, func(s *State) {
		s.Journal.Step = StepRollback
		if s.Journal.Rollback == "" {
			s.Journal.Rollback = reason.Error()
		}
	}); err != nil {
		return nil, err
	}
	// The disks are reverted once: a rollback run again after the old
	// image started must not throw away what it has written since.
	if !j.Reverted {
		if err := d.host.Destroy(ctx, d.Env.Domain); err != nil {
			return nil, fmt.Errorf("roll back: %w", err)
		}
		if err := d.revert(ctx, st); err != nil {
			return nil, err
		}
	}
	d.stopHook(StepRollbackData)
	if err := d.define(ctx, st, *j.From, ""); err != nil {
		return nil, fmt.Errorf("roll back: %w", err)
	}
	d.say("starting %s again; do not interrupt: a rollback finishes what it starts", describe(j.From))
	if err := d.start(ctx); err != nil {
		return nil, fmt.Errorf("roll back: %w", err)
	}
	detail := j.Rollback
	if err := d.health(ctx, st, *j.From); err != nil {
		detail += "; the previous image is not healthy either: " + err.Error()
	}
	sw := d.historyLine(j, ResultRolledBack, detail)
	if err := d.record(ctx, st, func(s *State) {
		s.History = append(s.History, sw)
		s.Journal, s.Lock = nil, nil
	}); err != nil {
		return nil, err
	}
	d.say("%s runs %s again; the tools were down for %.0f s", d.Env.Domain, describe(j.From), sw.Downtime)
	return &sw, &RolledBackError{Domain: d.Env.Domain, Swap: &sw, Reason: errors.New(detail)}
}

// revert puts the disks back as they were when the guest stopped, and
// records that it did. Reverting also puts back the definition of
// snapshot time, with the journal of then: the record is written again at
// once.
func (d *Deployer) revert(ctx context.Context, st *State) error {
	j := st.Journal
	if j.KeepData {
		d.say("the data volumes are kept as they are: %s", j.Rollback)
		return d.record(ctx, st, func(s *State) { s.Journal.Reverted = true })
	}
	has := false
	if j.Snapshot != "" {
		var err error
		if has, err = d.host.HasSnapshot(ctx, d.Env.Domain, j.Snapshot); err != nil {
			return fmt.Errorf("roll back: %w", err)
		}
	}
	switch {
	case has:
		if err := d.host.RevertSnapshot(ctx, d.Env.Domain, j.Snapshot); err != nil {
			return fmt.Errorf("roll back the data: %w", err)
		}
		d.say("the data volumes are back as they were when the guest stopped")
	case j.Snapshotted:
		// The new image may have changed the data; the old one must not
		// start on it without an admin's say.
		return fmt.Errorf("roll back: snapshot %s of the disks before swap %s is gone, so the data cannot be put back; "+
			"the guest is left stopped. Look at it (virsh snapshot-list %s), then start the image you trust by hand", j.Snapshot, j.ID, d.Env.Domain)
	}
	return d.record(ctx, st, func(s *State) { s.Journal.Reverted = true })
}

// UndoneError is a swap ended before it stopped the guest.
type UndoneError struct {
	Swap   *Swap
	Reason error
}

func (e *UndoneError) Error() string {
	return fmt.Sprintf("swap %s undone before the guest was stopped: %v", e.Swap.ID, e.Reason)
}

func (e *UndoneError) Unwrap() error { return e.Reason }

// undo ends a swap that had not stopped the guest yet.
func (d *Deployer) undo(ctx context.Context, st *State, reason error) error {
	ctx = context.WithoutCancel(ctx)
	var lost *LostLockError
	if errors.As(reason, &lost) {
		return reason
	}
	// A run whose lock was taken over touches nothing more.
	if err := d.stillHolder(ctx); err != nil {
		return errors.Join(reason, err)
	}
	j := st.Journal
	if !j.Reuse {
		if err := d.host.DeleteVolume(ctx, j.To.Overlay); err != nil {
			d.say("warning: %v", err)
		}
	}
	sw := d.historyLine(j, ResultUndone, reason.Error())
	if err := d.record(ctx, st, func(s *State) {
		s.History = append(s.History, sw)
		s.Journal, s.Lock = nil, nil
	}); err != nil {
		return errors.Join(reason, err)
	}
	return &UndoneError{Swap: &sw, Reason: reason}
}

// failFirst ends a first deployment that is not healthy: there is
// nothing to go back to, so the guest is left running for an admin.
func (d *Deployer) failFirst(ctx context.Context, st *State, reason error) (*Swap, error) {
	j := st.Journal
	sw := d.historyLine(j, ResultFailed, reason.Error())
	err := d.record(ctx, st, func(s *State) {
		s.History = append(s.History, sw)
		s.Journal, s.Lock = nil, nil
	})
	return &sw, errors.Join(fmt.Errorf("the first deployment of %s is not healthy and there is no earlier image to go back to; "+
		"the guest is left as it is, for you to look at (ostal deploy status %s): %w", d.Env.Domain, d.Env.Name, reason), err)
}

func (d *Deployer) historyLine(j *Journal, result Result, detail string) Swap {
	who := j.Who
	if who == "" {
		who = d.who
	}
	sw := Swap{ID: j.ID, Who: who, Started: j.Started, Finished: d.clock.Now().UTC(), To: j.To.Digest, Result: result, Detail: detail}
	if j.From != nil {
		sw.From = j.From.Digest
	}
	if !j.Stopped.IsZero() {
		sw.Downtime = d.since(j.Stopped).Seconds()
	}
	if j.Snapshotted {
		sw.SnapshotAt = j.SnapshotAt
	}
	if j.Restored {
		sw.RestoredFrom = j.RestoreFrom
	}
	return sw
}
