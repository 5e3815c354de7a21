package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ostal/ostal/internal/virt"
)

// One swap at a time. The domain's record names the lock's holder (its
// Lock, with the token of the holder's run); volumes of the
// environment's pool decide who may change that name. libvirt creates a
// volume only if its pool has none of that name: it checks and adds the
// name under the pool's lock and otherwise refuses (virt.IsExists), so
// of two deployers creating one name, however close together, exactly
// one succeeds. That is the test-and-set.
//
//   - Nobody to a deployer: the one that created DOMAIN.ostal-lock. It
//     stays while the lock is held, and goes only after the record names
//     nobody: while it exists, nobody else can take a free lock.
//   - A dead holder to a deployer (the holder's process is gone, on this
//     machine; elsewhere, no beat for staleAfter, and none while watched
//     one more beat): the one that created DOMAIN.ostal-takeover.TOKEN.1,
//     TOKEN being the dead holder's. Two deployers that judged it dead at
//     the same moment both try; the loser sees the winner's name in the
//     record within a moment. The winner reads the record again and goes
//     on only if it still names the holder it judged dead (same token,
//     same beat): a taker so late that the lock changed hands meanwhile
//     (whose takeover volume the new holder had already removed) gives
//     up. If the volume is there but the record does not change for a
//     whole beat, its creator died taking over: the next try is .2.
//   - A lock volume whose record names nobody for a whole beat (its
//     creator died before writing its name, or a holder between clearing
//     its name and removing the volume) is taken over the same way, as
//     TOKEN "unowned".
//
// A holder writes the record only after reading that it still names it
// (record, the heartbeat, define), so a run that was taken for dead and
// comes back stops at its next write, naming the new holder, and touches
// nothing more. What stays open is the one round trip between that read
// and the write, against a takeover that needs the holder silent for
// minutes (or its process gone).
//
// An older ostal kept the lock in the record alone: such a lock is judged
// like any other by the deployer that creates the lock volume and finds
// it named there, and is taken over only if its holder is dead. Both
// ostals must not swap one domain at once: the older one never looks at
// the volume.

// lockPoll is how often a deployer looks for the name of the holder of a
// lock volume that it found without one.
const lockPoll = 250 * time.Millisecond

func (d *Deployer) lockVolume() string     { return d.Env.Domain + ".ostal-lock" }
func (d *Deployer) takeoverPrefix() string { return d.Env.Domain + ".ostal-takeover." }

// takeOver makes this run the holder of the domain's lock, or says who
// holds it. st is what the caller read and decided on: the run goes on
// only if the record is still as it was, and st is then the record as
// taken.
func (d *Deployer) takeOver(ctx context.Context, st *State) error {
	now, err := d.acquire(ctx, func(now *State) error { return d.unchanged(st, now) })
	if err != nil {
		return err
	}
	*st = *now
	return nil
}

// acquire takes the lock (see above) and returns the record as it is
// then. ready may refuse, on that record, before it names this run; the
// lock is then left as it was.
func (d *Deployer) acquire(ctx context.Context, ready func(*State) error) (*State, error) {
	for range 3 {
		created, err := d.createMark(ctx, d.lockVolume())
		if err != nil {
			return nil, err
		}
		st, exists, err := d.load(ctx)
		if err != nil {
			return nil, d.undoMark(ctx, created, d.lockVolume(), err)
		}
		holder := st.Lock
		switch {
		case holder != nil && holder.Token == d.token:
			return st, nil
		case holder == nil && created:
			if err := ready(st); err != nil {
				return nil, d.undoMark(ctx, true, d.lockVolume(), err)
			}
			return st, d.claim(ctx, st, exists)
		case holder == nil:
			named, gone, err := d.awaitHolder(ctx)
			if err != nil {
				return nil, err
			}
			if gone {
				continue // freed meanwhile: try again
			}
			if named == nil {
				return d.takeOverFrom(ctx, nil, ready)
			}
			holder = named
		}
		live, err := d.liveHolder(ctx, holder)
		if err != nil || live != nil {
			// A lock this run's volume did not protect (an older ostal's)
			// is left as it was found.
			if err == nil {
				err = &LockedError{Lock: live, at: d.clock.Now()}
			}
			return nil, d.undoMark(ctx, created, d.lockVolume(), err)
		}
		return d.takeOverFrom(ctx, holder, ready)
	}
	return nil, &LockedError{at: d.clock.Now()}
}

// takeOverFrom takes the lock from a dead holder (nil: from nobody, with
// the lock volume there), if this run is the one to.
func (d *Deployer) takeOverFrom(ctx context.Context, dead *Lock, ready func(*State) error) (*State, error) {
	key := "unowned"
	if dead != nil && dead.Token != "" {
		key = dead.Token
	}
	mark := ""
	for try := 1; mark == ""; try++ {
		name := fmt.Sprintf("%s%s.%d", d.takeoverPrefix(), key, try)
		created, err := d.createMark(ctx, name)
		if err != nil {
			return nil, err
		}
		if created {
			mark = name
			break
		}
		// Another deployer is taking it over: its name is in the record
		// within a moment, unless it died doing so.
		now, changed, err := d.awaitChange(ctx, dead)
		if err != nil {
			return nil, err
		}
		if changed {
			return nil, &LockedError{Lock: now, at: d.clock.Now()}
		}
		if try == 10 {
			return nil, fmt.Errorf("ten deployers died taking over the lock of %s, or the volumes %s%s.* were left by hand; "+
				"if no `ostal deploy` runs for %s, delete them (virsh vol-delete --pool %s NAME) and run the command again",
				d.Env.Domain, d.takeoverPrefix(), key, d.Env.Domain, d.Env.Pool)
		}
	}
	st, exists, err := d.load(ctx)
	if err == nil && !sameHolder(st.Lock, dead) {
		err = &LockedError{Lock: st.Lock, at: d.clock.Now()}
	}
	if err == nil {
		err = ready(st)
	}
	if err == nil {
		err = d.claim(ctx, st, exists)
	}
	if err != nil {
		return nil, d.undoMark(ctx, true, mark, err)
	}
	return st, nil
}

// claim names this run as the holder in the record (none before the
// first definition, which carries it).
func (d *Deployer) claim(ctx context.Context, st *State, exists bool) error {
	st.Lock = d.newLock()
	if !exists {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.write(ctx, st)
}

// awaitHolder waits, a beat at most, for the record to name the holder
// of the lock volume; gone is true when the volume went meanwhile.
func (d *Deployer) awaitHolder(ctx context.Context) (holder *Lock, gone bool, err error) {
	err = d.poll(ctx, "the lock volume "+d.lockVolume()+" is there but the record names no holder", func() (bool, error) {
		if _, err := d.host.VolumePath(ctx, d.lockVolume()); virt.IsNotFound(err) {
			gone = true
			return true, nil
		} else if err != nil {
			return false, err
		}
		st, _, err := d.load(ctx)
		if err != nil {
			return false, err
		}
		holder = st.Lock
		return holder != nil, nil
	})
	return holder, gone, err
}

// awaitChange waits, a beat at most, for the record to name another
// holder than was (nil: nobody).
func (d *Deployer) awaitChange(ctx context.Context, was *Lock) (now *Lock, changed bool, err error) {
	err = d.poll(ctx, "another deployer is taking over the lock", func() (bool, error) {
		st, _, err := d.load(ctx)
		if err != nil {
			return false, err
		}
		now, changed = st.Lock, !sameHolder(st.Lock, was)
		return changed, nil
	})
	return now, changed, err
}

// poll runs done every lockPoll until it is true, for a beat at most;
// what is said after a second is why it waits.
func (d *Deployer) poll(ctx context.Context, why string, done func() (bool, error)) error {
	limit := d.beatEvery + 5*time.Second
	for waited := time.Duration(0); waited < limit; waited += lockPoll {
		if ok, err := done(); ok || err != nil {
			return err
		}
		if waited == time.Second {
			d.say("%s: watching it for %s", why, limit-waited)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.clock.After(lockPoll):
		}
	}
	return nil
}

// createMark creates an empty volume; false if there is one of that name.
func (d *Deployer) createMark(ctx context.Context, name string) (bool, error) {
	_, err := d.host.CreateVolume(ctx, virt.Volume{Name: name, Capacity: virt.Capacity{Unit: "B"},
		Target: virt.VolumeTarget{Format: virt.Format{Type: "raw"}}})
	if virt.IsExists(err) {
		return false, nil
	}
	return err == nil, err
}

// undoMark removes a volume this run created for nothing, and returns why.
func (d *Deployer) undoMark(ctx context.Context, created bool, name string, why error) error {
	if created {
		if err := d.host.DeleteVolume(context.WithoutCancel(ctx), name); err != nil {
			d.say("warning: %v", err)
		}
	}
	return why
}

// dropLockVolumes removes the lock volume and every takeover volume of
// the domain, once the record names nobody: a takeover still under way
// then finds the record changed and gives up.
func (d *Deployer) dropLockVolumes(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	names, err := d.host.Volumes(ctx)
	if err != nil {
		d.say("warning: the lock volumes stay: %v", err)
		return
	}
	for _, n := range names {
		if n == d.lockVolume() || strings.HasPrefix(n, d.takeoverPrefix()) {
			if err := d.host.DeleteVolume(ctx, n); err != nil {
				d.say("warning: %v", err)
			}
		}
	}
}

// unchanged refuses to go on when the record changed since the caller
// read it: another run swapped meanwhile.
func (d *Deployer) unchanged(was, now *State) error {
	if digestOf(was.Current) == digestOf(now.Current) && journalID(was.Journal) == journalID(now.Journal) {
		return nil
	}
	doing := "no swap in progress"
	if now.Journal != nil {
		doing = fmt.Sprintf("swap %s by %s in progress, at step %s", now.Journal.ID, now.Journal.Who, now.Journal.Step)
	}
	return fmt.Errorf("%s changed while this run waited for its lock: it now runs %s, %s; nothing was done: run the command again",
		d.Env.Domain, describe(now.Current), doing)
}

// sameHolder: the two locks are one holder's, at one beat (nil: nobody).
func sameHolder(a, b *Lock) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Token == b.Token && a.Beat.Equal(b.Beat)
}

func digestOf(r *Release) string {
	if r == nil {
		return ""
	}
	return r.Digest
}

func journalID(j *Journal) string {
	if j == nil {
		return ""
	}
	return j.ID
}
