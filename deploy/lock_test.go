package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/internal/virt"
)

// The lock, on a domain that runs A: each case leaves the lock as some
// deployer would have, then another operator (bo, on this machine) swaps
// to B.
func TestLockBranches(t *testing.T) {
	lockOf := func(who, machine string, pid int, beat time.Time) *Lock {
		return &Lock{Who: who, PID: pid, Host: strings.Split(who, "@")[1], Machine: machine, Token: "token-of-" + strings.Split(who, "@")[0],
			Since: beat.UTC(), Beat: beat.UTC()}
	}
	killedAfterStop := func(w *world) { w.killedAfter(StepStop, "B") }
	lockVolume := func(w *world) { w.mark("ostal-test.ostal-lock") }
	// takenOver is the volume a takeover from ana's dead lock creates.
	takenOver := func(w *world, try int) string {
		return fmt.Sprintf("ostal-test.ostal-takeover.%s.%d", w.state().Lock.Token, try)
	}
	refused := func(t *testing.T, w *world, err error) {
		var le *LockedError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, "A", w.imageName(), "nothing was swapped")
	}
	cases := []struct {
		name    string
		arrange func(w *world)
		wantErr []string // none: the swap to B is done
		more    func(t *testing.T, w *world, err error)
	}{
		{name: "free: taken, then given up with the swap",
			more: func(t *testing.T, w *world, _ error) {
				assert.Equal(t, 1, w.host.calls["CreateVolume ostal-test.ostal-lock"])
				assert.Equal(t, []Result{ResultOK, ResultOK}, w.results())
			}},
		{name: "held by a live deployer on this machine: refused, naming it, left as it was",
			arrange: func(w *world) { killedAfterStop(w); w.dead = map[int]bool{} },
			wantErr: []string{"ana@laptop has been swapping this domain since", "(pid 101 on laptop, last sign of life 0s ago)"},
			more: func(t *testing.T, w *world, err error) {
				refused(t, w, err)
				assert.Equal(t, StepStop, w.state().Journal.Step)
				assert.Equal(t, []string{"ostal-test.ostal-lock"}, w.lockVolumes(), "the holder's volume stays")
			}},
		{name: "held on this machine by a process that is gone: taken over and its swap finished",
			arrange: killedAfterStop,
			more: func(t *testing.T, w *world, _ error) {
				assert.Contains(t, w.out.String(), "by ana@laptop was interrupted at step stop")
				assert.Equal(t, 1, w.takeoversCreated(1))
			}},
		{name: "held elsewhere, beat 30 s ago: refused",
			arrange: func(w *world) {
				w.edit(func(s *State) { s.Lock = lockOf("cy@far", "machine-2", 7, w.clock.Now().Add(-30*time.Second)) })
			},
			wantErr: []string{"cy@far has been swapping this domain", "last sign of life 30s ago"},
			more:    refused},
		{name: "an older ostal's lock, in the record only, live: refused, and no lock volume left behind",
			arrange: func(w *world) { w.edit(func(s *State) { s.Lock = lockOf("cy@far", "machine-2", 7, w.clock.Now()) }) },
			wantErr: []string{"cy@far has been swapping this domain"},
			more: func(t *testing.T, w *world, err error) {
				refused(t, w, err)
				assert.Empty(t, w.lockVolumes())
			}},
		{name: "an older ostal's lock, in the record only, its process gone: taken over",
			arrange: func(w *world) {
				w.edit(func(s *State) { s.Lock = lockOf("cy@laptop", "machine-1", 99, w.clock.Now()) })
				w.dead[99] = true
			}},
		{name: "held elsewhere, silent for 150 s and one more beat: taken over",
			arrange: func(w *world) {
				w.edit(func(s *State) { s.Lock = lockOf("cy@far", "machine-2", 7, w.clock.Now().Add(-150*time.Second)) })
				lockVolume(w)
			},
			more: func(t *testing.T, w *world, _ error) {
				assert.Contains(t, w.out.String(), "the lock of cy@far looks abandoned")
			}},
		{name: "a lock volume whose record names nobody for a beat: taken over",
			arrange: lockVolume,
			more: func(t *testing.T, w *world, _ error) {
				assert.Contains(t, w.out.String(), "the lock volume ostal-test.ostal-lock is there but the record names no holder: watching it for 24s")
				assert.Equal(t, 1, w.host.calls["CreateVolume ostal-test.ostal-takeover.unowned.1"])
			}},
		{name: "a lock volume whose creator names itself a moment later: refused, naming it",
			arrange: func(w *world) {
				lockVolume(w)
				w.clock.onAfter = func() {
					w.clock.onAfter = nil
					w.edit(func(s *State) { s.Lock = lockOf("cy@far", "machine-2", 7, w.clock.Now()) })
				}
			},
			wantErr: []string{"cy@far has been swapping this domain"}, more: refused},
		{name: "another deployer taking over the same dead lock: refused, naming it",
			arrange: func(w *world) {
				killedAfterStop(w)
				w.mark(takenOver(w, 1))
				w.clock.onAfter = func() {
					w.clock.onAfter = nil
					w.edit(func(s *State) { s.Lock = lockOf("cy@far", "machine-2", 7, w.clock.Now()) })
				}
			},
			wantErr: []string{"cy@far has been swapping this domain"}, more: refused},
		{name: "a deployer that died taking over the same dead lock: the next try takes it",
			arrange: func(w *world) { killedAfterStop(w); w.mark(takenOver(w, 1)) },
			more: func(t *testing.T, w *world, _ error) {
				assert.Contains(t, w.out.String(), "another deployer is taking over the lock: watching it for 24s")
				assert.Equal(t, 1, w.takeoversCreated(2), "try .2")
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.mustSwap("A")
			require.Empty(t, w.lockVolumes(), "a swap gives the lock up")
			if c.arrange != nil {
				c.arrange(w)
			}
			w.out.Reset()
			w.host.calls = map[string]int{}
			_, err, died := w.swap(otherOperator, "B", "")
			require.False(t, died)
			if len(c.wantErr) == 0 {
				require.NoError(t, err)
				assert.Equal(t, "B", w.imageName())
				assert.True(t, w.running())
				assert.Nil(t, w.state().Lock)
				assert.Nil(t, w.state().Journal)
				assert.Empty(t, w.lockVolumes(), "given up, with every takeover volume")
			}
			for _, s := range c.wantErr {
				assert.ErrorContains(t, err, s)
			}
			if c.more != nil {
				c.more(t, w, err)
			}
			if t.Failed() {
				fmt.Println(w.out.String())
			}
		})
	}
}

// Deployers started together on one domain, all at its lock volume at
// the same moment: exactly one goes on, the others say who holds it.
func TestLockRaces(t *testing.T) {
	swapTo := func(name string) func(w *world, d *Deployer) error {
		return func(w *world, d *Deployer) error {
			_, err := d.Swap(context.Background(), w.img[name], Now)
			return err
		}
	}
	gc := func(_ *world, d *Deployer) error {
		_, err := d.GC(context.Background(), 3)
		return err
	}
	cases := []struct {
		name    string
		arrange func(w *world)
		racers  []racer
	}{
		{name: "two swaps, one machine", racers: []racer{{otherOperator, "machine-1", swapTo("B")}, {"cy@laptop", "machine-1", swapTo("B")}}},
		{name: "two swaps, two machines", racers: []racer{{otherOperator, "machine-1", swapTo("B")}, {"cy@far", "machine-2", swapTo("B")}}},
		{name: "two swaps on a lock whose holder died after the stop",
			arrange: func(w *world) { w.killedAfter(StepStop, "B") },
			racers:  []racer{{otherOperator, "machine-1", swapTo("B")}, {"cy@laptop", "machine-1", swapTo("B")}}},
		{name: "gc and a swap",
			racers: []racer{{otherOperator, "machine-1", gc}, {"cy@laptop", "machine-1", swapTo("B")}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for round := range 20 {
				w := newWorld(t)
				w.mustSwap("A")
				// Pushed before: two pushes of one image at once are not
				// what this is about.
				w.push("B")
				if c.arrange != nil {
					c.arrange(w)
				}
				errs, winners := w.race(c.racers...)
				var won []string
				for i, err := range errs {
					if err == nil {
						won = append(won, c.racers[i].who)
						continue
					}
					var le *LockedError
					if !assert.ErrorAs(t, err, &le, "round %d: %s", round, c.racers[i].who) {
						continue
					}
					if le.Lock != nil {
						assert.Contains(t, winners, le.Lock.Token, "round %d: the refusal names the holder", round)
					}
				}
				require.Len(t, won, 1, "round %d: %v", round, errs)
				assert.Nil(t, w.state().Lock)
				assert.Nil(t, w.state().Journal)
				assert.Empty(t, w.lockVolumes())
			}
		})
	}
}

// A run whose lock another deployer took over (taking it for dead) stops
// at its next write, naming the new holder, and touches nothing more.
func TestLockTakenOverMidSwap(t *testing.T) {
	for _, unhealthy := range []bool{false, true} {
		t.Run(fmt.Sprintf("new image unhealthy: %v", unhealthy), func(t *testing.T) {
			w := newWorld(t)
			w.mustSwap("A")
			if unhealthy {
				w.unhealthy["B"] = errors.New("no SSH answer")
			}
			thief := &Lock{Who: "cy@far", PID: 7, Host: "far", Machine: "machine-2", Token: "token-of-cy", Since: w.clock.Now(), Beat: w.clock.Now()}
			w.onHealth = func(string) {
				w.onHealth = nil
				w.edit(func(s *State) { s.Lock = thief })
				w.host.calls = map[string]int{}
			}
			_, err, _ := w.swap(testOperator, "B", "")
			var lost *LostLockError
			require.ErrorAs(t, err, &lost)
			assert.ErrorContains(t, err, "this deployer no longer holds the lock of ostal-test: cy@far took it over at")
			assert.ErrorContains(t, err, "this run stops here and changes nothing more")
			st := w.state()
			assert.Equal(t, "token-of-cy", st.Lock.Token, "the record is the new holder's")
			assert.Equal(t, StepHealth, st.Journal.Step)
			assert.Equal(t, "B", w.imageName())
			assert.True(t, w.running())
			for _, op := range []string{"SetMetadata", "Shutdown", "Destroy", "RevertSnapshot", "DeleteVolume", "Start", "Define"} {
				assert.Zero(t, w.host.calls[op], "%s after the takeover", op)
			}
			assert.Equal(t, []string{"ostal-test.ostal-lock"}, w.lockVolumes(), "the lock volume is the new holder's")
		})
	}
}

// The heartbeat renews the lock at each beat, and stops once another
// deployer has taken it over, writing nothing; stopped, it writes no more.
func TestHeartbeat(t *testing.T) {
	for _, takenOver := range []bool{false, true} {
		t.Run(fmt.Sprintf("taken over: %v", takenOver), func(t *testing.T) {
			w := newWorld(t)
			w.mustSwap("A")
			w.clock.ticks = make(chan time.Time)
			d := w.deployer(testOperator, "machine-1", "")
			st := w.state()
			st.Lock = d.newLock()
			holder := st.Lock
			if takenOver {
				holder = &Lock{Who: "cy@far", Token: "token-of-cy", Beat: w.clock.Now()}
			}
			w.edit(func(s *State) { s.Lock = holder })
			stop := d.heartbeat(context.Background(), st)
			w.clock.advance(20 * time.Second)
			w.clock.ticks <- w.clock.Now()
			stop()
			if !takenOver {
				assert.Equal(t, w.clock.Now(), w.state().Lock.Beat)
				return
			}
			assert.Equal(t, *holder, *w.state().Lock)
			assert.Contains(t, w.out.String(), "no longer holds the lock of ostal-test: cy@far took it over")
		})
	}
}

// libvirt refuses to create a volume whose name its pool has, with an
// error virt.IsExists recognises: the fake does the same.
func TestFakeCreateVolumeRefusesAName(t *testing.T) {
	h := newFakeHost()
	_, err := h.CreateVolume(context.Background(), virt.Volume{Name: "v"})
	require.NoError(t, err)
	_, err = h.CreateVolume(context.Background(), virt.Volume{Name: "v"})
	assert.True(t, virt.IsExists(err), "%v", err)
	assert.False(t, virt.IsExists(errBoom))
}

// racer is one deployer of a race: who, on which machine, doing what.
type racer struct {
	who, machine string
	do           func(w *world, d *Deployer) error
}

// race runs the racers at once, holding each at the lock volume until
// all are there; the holder lists the pool's volumes (gc) or the
// domain's snapshots (a swap) only once another has finished: a swap on
// the fake host takes less time than a loser's look at the record, which
// must find the lock held. It returns each one's error and the racers' lock
// tokens.
func (w *world) race(racers ...racer) (errs []error, tokens []string) {
	var mu sync.Mutex
	arrived, all := 0, make(chan struct{})
	oneDone := make(chan struct{})
	var once sync.Once
	w.host.before = func(op, name string) {
		switch {
		case op == "Volumes" || op == "Snapshots":
			select {
			case <-oneDone:
			case <-time.After(5 * time.Second):
			}
		case name == w.env.Domain+".ostal-lock":
			mu.Lock()
			if arrived++; arrived == len(racers) {
				close(all)
			}
			mu.Unlock()
			<-all
		}
	}
	// Waits take a moment of real time: a holder writes its name before
	// a loser has watched for a whole (fake) beat.
	w.clock.onAfter = func() { time.Sleep(time.Millisecond) }
	errs = make([]error, len(racers))
	var ds []*Deployer
	for _, r := range racers {
		d := w.deployer(r.who, r.machine, "")
		d.opts.Out = &bytes.Buffer{}
		ds = append(ds, d)
		tokens = append(tokens, d.token)
	}
	var wg sync.WaitGroup
	for i, r := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.do(w, ds[i])
			once.Do(func() { close(oneDone) })
		}()
	}
	wg.Wait()
	w.host.before, w.clock.onAfter = nil, nil
	for _, d := range ds {
		w.dead[d.pid] = true
	}
	return errs, tokens
}

// mark creates an empty volume, as a deployer marking the lock would.
func (w *world) mark(name string) {
	w.t.Helper()
	_, err := w.host.CreateVolume(context.Background(), virt.Volume{Name: name})
	require.NoError(w.t, err)
}

// lockVolumes are the pool's lock and takeover volumes.
func (w *world) lockVolumes() []string {
	names, _ := w.host.Volumes(context.Background())
	var locks []string
	for _, n := range names {
		if strings.Contains(n, ".ostal-lock") || strings.Contains(n, ".ostal-takeover.") {
			locks = append(locks, n)
		}
	}
	return locks
}

// takeoversCreated counts the tries to create a takeover volume of try.
func (w *world) takeoversCreated(try int) int {
	n := 0
	for op, calls := range w.host.calls {
		if strings.HasPrefix(op, "CreateVolume ") && strings.Contains(op, ".ostal-takeover.") && strings.HasSuffix(op, fmt.Sprintf(".%d", try)) {
			n += calls
		}
	}
	return n
}
