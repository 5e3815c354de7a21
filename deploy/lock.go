package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ostal/ostal/internal/virt"
)

// staleAfter: a lock whose holder has not renewed it for this long
// belongs to a deployer that died (or lost its connection for good).
const staleAfter = 2 * time.Minute

const beatEvery = 20 * time.Second

// LockedError is a swap refused because another operator's is running.
type LockedError struct {
	Lock *Lock
	// at is when it was refused; now if zero.
	at time.Time
}

func (e *LockedError) Error() string {
	if e.Lock == nil {
		return "another deployer took this domain at the same moment; run the command again to see who"
	}
	return fmt.Sprintf("%s has been swapping this domain since %s (pid %d on %s, last sign of life %s ago); wait for it to finish. "+
		"If that deployer is gone, its lock expires %s after its last sign of life and the next `ostal deploy` finishes or undoes its swap",
		e.Lock.Who, e.Lock.Since.Local().Format("2006-01-02 15:04:05"), e.Lock.PID, e.Lock.Host,
		e.age().Round(time.Second), staleAfter)
}

// age is how long ago the holder last showed a sign of life.
func (e *LockedError) age() time.Duration {
	at := e.at
	if at.IsZero() {
		at = time.Now()
	}
	return at.Sub(e.Lock.Beat)
}

// LostLockError stops a run whose lock another deployer took over, taking
// it for dead (it showed no sign of life for too long): it changes
// nothing more, the new holder finishes or undoes the swap.
type LostLockError struct {
	Domain, Env string
	// Holder is who holds the lock now; nil if nobody does.
	Holder *Lock
}

func (e *LostLockError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("this deployer no longer holds the lock of %s: its record names no holder (someone edited it, or this run was taken for dead "+
			"and its swap finished by another); this run stops here and changes nothing more. See where the domain stands with `ostal deploy status %s`, "+
			"then run the command again", e.Domain, e.Env)
	}
	return fmt.Sprintf("this deployer no longer holds the lock of %s: %s took it over at %s (pid %d on %s), taking this run for dead "+
		"(its heartbeat did not reach the record for %s); this run stops here and changes nothing more, and %s finishes or undoes the swap. "+
		"Follow it with `ostal deploy status %s`",
		e.Domain, e.Holder.Who, e.Holder.Since.Local().Format("2006-01-02 15:04:05"), e.Holder.PID, e.Holder.Host, staleAfter, e.Holder.Who, e.Env)
}

// liveHolder tells a live holder's lock from a dead one's: on this
// machine by its process; elsewhere by its heartbeat, and a heartbeat
// that looks old is watched for one more beat, since the two machines'
// clocks may differ. It returns the lock as it is now if its holder
// lives, nil if it is dead.
func (d *Deployer) liveHolder(ctx context.Context, l *Lock) (*Lock, error) {
	if l.Machine != "" && l.Machine == d.machine {
		if l.PID != 0 && d.alive(l.PID) {
			return l, nil
		}
		return nil, nil
	}
	if d.since(l.Beat) < staleAfter {
		return l, nil
	}
	d.say("the lock of %s looks abandoned (last sign of life %s ago by this machine's clock); watching it for %s",
		l.Who, d.since(l.Beat).Round(time.Second), d.beatEvery+5*time.Second)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-d.clock.After(d.beatEvery + 5*time.Second):
	}
	again, _, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	if again.Lock != nil && !again.Lock.Beat.Equal(l.Beat) {
		return again.Lock, nil
	}
	return nil, nil
}

// load reads the domain's record; exists is false before the first
// deployment.
func (d *Deployer) load(ctx context.Context) (st *State, exists bool, err error) {
	inner, err := d.host.Metadata(ctx, d.Env.Domain, MetadataNS)
	if virt.IsNotFound(err) {
		return &State{}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	st, err = parseState(inner)
	return st, err == nil, err
}

// record applies change to the record and writes it into the domain's
// metadata, in that order for every writer, once it has read that the
// record still names this run as the lock's holder. A change that gives
// the lock up also removes its volumes.
func (d *Deployer) record(ctx context.Context, st *State, change func(*State)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// The record must be written even when the caller's context ends:
	// a journal that lags behind the domain is what makes a swap unsafe.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := d.stillHolder(wctx); err != nil {
		return err
	}
	held := st.Lock != nil && st.Lock.Token == d.token
	if change != nil {
		change(st)
	}
	if err := d.write(wctx, st); err != nil {
		return err
	}
	if held && st.Lock == nil {
		d.dropLockVolumes(wctx)
	}
	return nil
}

// write puts st into the domain's metadata as it is.
func (d *Deployer) write(ctx context.Context, st *State) error {
	x, err := st.xml()
	if err != nil {
		return err
	}
	return d.host.SetMetadata(ctx, d.Env.Domain, MetadataNS, metadataKey, x)
}

// stillHolder is nil while the record names this run as the lock's
// holder (or there is no record yet: a first deployment's domain is
// defined with it). The write right after a snapshot's revert is let
// through: reverting put back the record of then, which names the
// holder of then (this run, or the dead one whose swap it finishes).
func (d *Deployer) stillHolder(ctx context.Context) error {
	if d.reverted.Swap(false) {
		return nil
	}
	now, exists, err := d.load(ctx)
	if err != nil || !exists {
		return err
	}
	if now.Lock == nil || now.Lock.Token != d.token {
		return &LostLockError{Domain: d.Env.Domain, Env: d.Env.Name, Holder: now.Lock}
	}
	return nil
}

// unlock gives the lock up without a swap to record.
func (d *Deployer) unlock(ctx context.Context, st *State) error {
	if _, exists, err := d.load(ctx); err != nil {
		return err
	} else if !exists {
		d.dropLockVolumes(ctx)
		return nil
	}
	return d.record(ctx, st, func(s *State) { s.Lock = nil })
}

// handBack gives the lock back to the dead holder it was taken from, so
// that the next run judges its swap as this one found it.
func (d *Deployer) handBack(ctx context.Context, st *State, prev *Lock) error {
	if err := d.record(ctx, st, func(s *State) { s.Lock = prev }); err != nil {
		return err
	}
	d.dropLockVolumes(ctx)
	return nil
}

// newLock is this deployer's lock, taken now.
func (d *Deployer) newLock() *Lock {
	now := d.clock.Now().UTC()
	return &Lock{Who: d.who, PID: d.pid, Host: d.hostname, Machine: d.machine, Token: d.token, Since: now, Beat: now}
}

// heartbeat renews the lock until stop is called, or until another
// deployer has taken it over.
func (d *Deployer) heartbeat(ctx context.Context, st *State) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	beats, stopTicker := d.clock.Ticker(d.beatEvery)
	go func() {
		defer close(ended)
		defer stopTicker()
		for {
			select {
			case <-done:
				return
			case <-beats:
				err := d.record(ctx, st, func(s *State) {
					if s.Lock != nil {
						s.Lock.Beat = d.clock.Now().UTC()
					}
				})
				var lost *LostLockError
				if errors.As(err, &lost) {
					d.say("%v", err)
					return
				}
			}
		}
	}()
	// A beat under way is written before the swap goes on.
	return func() { close(done); <-ended }
}
