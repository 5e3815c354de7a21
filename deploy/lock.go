package deploy

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/ostal/ostal/internal/virt"
)

// staleAfter: a lock whose holder has not renewed it for this long
// belongs to a deployer that died (or lost its connection for good).
const staleAfter = 2 * time.Minute

const beatEvery = 20 * time.Second

// LockedError is a swap refused because another operator's is running.
type LockedError struct{ Lock *Lock }

func (e *LockedError) Error() string {
	if e.Lock == nil {
		return "another deployer took this domain at the same moment; run the command again to see who"
	}
	return fmt.Sprintf("%s has been swapping this domain since %s (pid %d on %s, last sign of life %s ago); wait for it to finish. "+
		"If that deployer is gone, its lock expires %s after its last sign of life and the next `ostal deploy` finishes or undoes its swap",
		e.Lock.Who, e.Lock.Since.Local().Format("2006-01-02 15:04:05"), e.Lock.PID, e.Lock.Host,
		time.Since(e.Lock.Beat).Round(time.Second), staleAfter)
}

// alive tells a live holder's lock from a dead one's: on this host by its
// process, elsewhere by its heartbeat.
func (d *Deployer) alive(l *Lock) bool {
	if l.Host == d.host {
		if l.PID == 0 || syscall.Kill(l.PID, 0) == syscall.ESRCH {
			return false
		}
	}
	return time.Since(l.Beat) < staleAfter
}

// load reads the domain's record; exists is false before the first
// deployment.
func (d *Deployer) load(ctx context.Context) (st *State, exists bool, err error) {
	inner, err := d.conn.Metadata(ctx, d.Env.Domain, MetadataNS)
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
	return d.conn.SetMetadata(wctx, d.Env.Domain, MetadataNS, metadataKey, x)
}

// newLock is this deployer's lock, taken now.
func (d *Deployer) newLock() *Lock {
	now := time.Now().UTC()
	return &Lock{Who: d.who, PID: d.pid, Host: d.host, Since: now, Beat: now}
}

// heartbeat renews the lock until stop is called.
func (d *Deployer) heartbeat(ctx context.Context, st *State) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(beatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				d.record(ctx, st, func(s *State) {
					if s.Lock != nil {
						s.Lock.Beat = time.Now().UTC()
					}
				})
			}
		}
	}()
	return func() { close(done) }
}
