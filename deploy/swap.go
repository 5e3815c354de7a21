package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
)

// Step is a step of a swap, as its journal names it. The values are
// those of the records already written into domains' metadata: never
// change one.
type Step string

// The steps of a swap, in order. The journal names the step begun last,
// which is all the next run needs to finish or undo it.
const (
	StepLock     Step = "lock"
	StepOverlay  Step = "overlay"
	StepStop     Step = "stop"
	StepSnapshot Step = "snapshot"
	StepDefine   Step = "define"
	StepStart    Step = "start"
	StepHealth   Step = "health"
	StepCommit   Step = "commit"
	StepRollback Step = "rollback"
	// StepRollbackData is no journal step, only a point Options.StopAfter
	// can name: a rollback that has put the data back, before the
	// previous image starts again.
	StepRollbackData Step = "rollback-data"
	// StepRestoreData, only in a rollback with --restore-data, puts the
	// data volumes back to an earlier swap's snapshot, after the snapshot
	// of today's disks and before the define.
	StepRestoreData Step = "restore-data"
)

// Steps are the steps a swap runs before it commits, in order: each is
// one Options.StopAfter can name.
var Steps = []Step{StepLock, StepOverlay, StepStop, StepSnapshot, StepDefine, StepStart, StepHealth}

// Mode says when a swap may take the cooperative's tools down.
type Mode int

const (
	// InWindowOnly swaps inside the maintenance window, else refuses.
	InWindowOnly Mode = iota
	// WaitForWindow waits for the window to open.
	WaitForWindow
	// Now swaps at once.
	Now
)

// Swap makes img the domain's OS: pushed first (so the window is spent on
// the swap alone), then the guest is stopped, its disks snapshotted, the
// domain pointed at the new image with the same data volumes, started and
// checked; if it is not healthy in time, everything goes back as it was.
func (d *Deployer) Swap(ctx context.Context, img *Image, mode Mode) (*Swap, error) {
	if err := d.preflight(); err != nil {
		return nil, err
	}
	if _, err := d.Push(ctx, img); err != nil {
		return nil, err
	}
	if err := d.waitWindow(ctx, mode); err != nil {
		return nil, err
	}
	st, exists, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	to := img.Release(d.Env.Domain)
	if !exists {
		return d.firstDeploy(ctx, to)
	}
	if st.Current == nil && st.Journal == nil && len(st.History) == 0 {
		return nil, fmt.Errorf("%s: domain: %s already exists on %s but ostal did not deploy it (it has no ostal record); "+
			"ostal will not redefine it and risk its disks: choose another domain name, or remove that domain yourself "+
			"(virsh undefine %s; its volumes stay)", d.Env.Path, d.Env.Domain, d.Env.URI, d.Env.Domain)
	}
	if sw, err := d.Recover(ctx, st); err != nil {
		return nil, err
	} else if sw != nil && sw.To == to.Digest && (sw.Result == ResultRolledBack || sw.Result == ResultFailed) {
		// The interrupted swap was to this very image, and it was not
		// healthy: trying again at once would only take the tools down
		// again.
		return sw, fmt.Errorf("the interrupted swap %s to %s was finished: %s (%s); nothing more was done: run the swap again to retry",
			sw.ID, Short(sw.To), sw.Result, sw.Detail)
	}
	same := st.Current != nil && st.Current.Digest == to.Digest
	if same {
		running, err := d.host.Running(ctx, d.Env.Domain)
		if err != nil {
			return nil, err
		}
		if running {
			d.say("%s already runs image %s (%s): nothing to swap", d.Env.Domain, Short(to.Digest), to.Name)
			return nil, nil
		}
	}
	// The same image on a stopped guest: started again on its own layer,
	// which a rollback would need.
	return d.swapTo(ctx, st, to, same, "")
}

// swapTo swaps to the release; restoreFrom, when set, names the
// snapshot of an earlier swap whose data volumes come back with it.
func (d *Deployer) swapTo(ctx context.Context, st *State, to Release, reuseOverlay bool, restoreFrom string) (*Swap, error) {
	if err := d.checkDataVolumes(ctx); err != nil {
		return nil, err
	}
	if err := d.lock(ctx, st, to, reuseOverlay, restoreFrom); err != nil {
		return nil, err
	}
	stopBeat := d.heartbeat(ctx, st)
	defer stopBeat()
	d.stopHook(StepLock)
	j := st.Journal
	d.say("swapping %s from %s to %s (swap %s)", d.Env.Domain, describe(j.From), describe(&to), j.ID)
	return d.resume(ctx, st, StepOverlay)
}

// resume runs a locked swap from step on. Every step can be run again,
// so a swap interrupted anywhere is finished by running it from the
// step its journal names.
func (d *Deployer) resume(ctx context.Context, st *State, from Step) (*Swap, error) {
	j := st.Journal
	steps := []struct {
		name Step
		do   func() error
	}{
		{StepOverlay, func() error { return d.ensureOverlay(ctx, j.To, j.Reuse) }},
		{StepStop, func() error { return d.stopGuest(ctx) }},
		{StepSnapshot, func() error {
			if err := d.snapshot(ctx, st); err != nil {
				return err
			}
			return d.record(ctx, st, func(s *State) {
				s.Journal.Snapshotted = true
				if s.Journal.SnapshotAt == nil {
					now := d.clock.Now().UTC()
					s.Journal.SnapshotAt = &now
				}
			})
		}},
		{StepRestoreData, func() error { return d.restoreData(ctx, st) }},
		{StepDefine, func() error { return d.define(ctx, st, j.To, candidateOf(j)) }},
		{StepStart, func() error { return d.start(ctx) }},
		{StepHealth, func() error { return d.health(ctx, st, j.To) }},
	}
	known := false
	for _, s := range steps {
		known = known || s.name == from
	}
	if !known {
		return nil, fmt.Errorf("swap %s: its journal names step %q, which this ostal does not know; finish it with the ostal that started it", j.ID, from)
	}
	started := false
	for _, s := range steps {
		if started = started || s.name == from; !started {
			continue
		}
		if s.name == StepRestoreData && j.RestoreFrom == "" {
			continue // an ordinary swap keeps its data
		}
		if err := d.begin(ctx, st, s.name); err != nil {
			if s.name == StepStop {
				// The guest was not asked to stop: nothing to roll back.
				return nil, d.undo(ctx, st, err)
			}
			return d.giveUp(ctx, st, err)
		}
		if err := s.do(); err != nil {
			return d.giveUp(ctx, st, fmt.Errorf("step %s: %w", s.name, err))
		}
		d.stopHook(s.name)
	}
	return d.commit(ctx, st)
}

// giveUp ends a swap that failed: undone if the guest was not stopped
// yet, rolled back otherwise.
func (d *Deployer) giveUp(ctx context.Context, st *State, err error) (*Swap, error) {
	if st.Journal.Stopped.IsZero() {
		return nil, d.undo(ctx, st, err)
	}
	return d.rollback(ctx, st, err)
}

// start boots the domain unless it already runs.
func (d *Deployer) start(ctx context.Context) error {
	running, err := d.host.Running(ctx, d.Env.Domain)
	if err != nil || running {
		return err
	}
	return d.host.Start(ctx, d.Env.Domain)
}

// CanSwap refuses, before anything is touched, a swap that could only
// fail half-way: one without the key to check the new image's health, or
// with settings for the guest that cannot be read.
func CanSwap(env *Environment) error {
	signer, _, err := deployerKey(env)
	if err != nil {
		return err
	}
	_, err = guestCredentials(env, string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	return err
}

func (d *Deployer) preflight() error { return CanSwap(d.Env) }

// begin records that a step starts, before it does anything.
func (d *Deployer) begin(ctx context.Context, st *State, step Step) error {
	return d.record(ctx, st, func(s *State) {
		s.Journal.Step = step
		if step == StepStop && s.Journal.Stopped.IsZero() {
			s.Journal.Stopped = d.clock.Now().UTC()
		}
		if step == StepStart && s.Journal.Booted.IsZero() {
			s.Journal.Booted = d.clock.Now().UTC()
		}
		if step == StepSnapshot && s.Journal.Snapshot == "" {
			s.Journal.Snapshot = "ostal-" + s.Journal.ID
		}
	})
}

// lock takes the domain for this swap, or says who holds it.
func (d *Deployer) lock(ctx context.Context, st *State, to Release, reuse bool, restoreFrom string) error {
	// Taken first: the journal is written by the holder alone.
	if err := d.takeOver(ctx, st); err != nil {
		return err
	}
	now := d.clock.Now().UTC()
	j := &Journal{ID: newSwapID(now), Who: d.who, Step: StepLock, Started: now, From: st.Current, To: to, Reuse: reuse, RestoreFrom: restoreFrom}
	return d.record(ctx, st, func(s *State) { s.Journal = j })
}

func describe(r *Release) string {
	if r == nil {
		return "nothing"
	}
	return fmt.Sprintf("%s (%s)", Short(r.Digest), r.Name)
}

func newSwapID(now time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}
