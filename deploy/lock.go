package deploy

import (
	"context"
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

// holderAlive tells a live holder's lock from a dead one's: on this
// machine by its process; elsewhere by its heartbeat, and a heartbeat
// that looks old is watched for one more beat, since the two machines'
// clocks may differ.
func (d *Deployer) holderAlive(ctx context.Context, l *Lock) (bool, error) {
	if l.Machine != "" && l.Machine == d.machine {
		return l.PID != 0 && d.alive(l.PID), nil
	}
	if d.since(l.Beat) < staleAfter {
		return true, nil
	}
	d.say("the lock of %s looks abandoned (last sign of life %s ago by this machine's clock); watching it for %s",
		l.Who, d.since(l.Beat).Round(time.Second), d.beatEvery+5*time.Second)
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-d.clock.After(d.beatEvery + 5*time.Second):
	}
	again, _, err := d.load(ctx)
	if err != nil {
		return false, err
	}
	return again.Lock != nil && !again.Lock.Beat.Equal(l.Beat), nil
}

// takeOver makes this deployer the lock's holder, and checks that no
// other run took it at the same moment.
func (d *Deployer) takeOver(ctx context.Context, st *State) error {
	if err := d.record(ctx, st, func(s *State) { s.Lock = d.newLock() }); err != nil {
		return err
	}
	again, _, err := d.load(ctx)
	if err != nil {
		return err
	}
	if l := again.Lock; l == nil || l.Token != st.Lock.Token {
		return &LockedError{Lock: l, at: d.clock.Now()}
	}
	return nil
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
// metadata, in that order for every writer.
func (d *Deployer) record(ctx context.Context, st *State, change func(*State)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if change != nil {
		change(st)
	}
	x, err := st.xml()
	if err != nil {
		return err
	}
	// The record must be written even when the caller's context ends:
	// a journal that lags behind the domain is what makes a swap unsafe.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return d.host.SetMetadata(wctx, d.Env.Domain, MetadataNS, metadataKey, x)
}

// newLock is this deployer's lock, taken now.
func (d *Deployer) newLock() *Lock {
	now := d.clock.Now().UTC()
	return &Lock{Who: d.who, PID: d.pid, Host: d.hostname, Machine: d.machine, Token: d.token, Since: now, Beat: now}
}

// heartbeat renews the lock until stop is called.
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
				d.record(ctx, st, func(s *State) {
					if s.Lock != nil {
						s.Lock.Beat = d.clock.Now().UTC()
					}
				})
			}
		}
	}()
	// A beat under way is written before the swap goes on.
	return func() { close(done); <-ended }
}
