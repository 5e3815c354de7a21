package deploy

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every branch of a swap on a domain that runs image A with the data
// "members-v1": what the user sees after (the image the domain runs,
// whether it runs, the data, the history and the error).
func TestSwapBranches(t *testing.T) {
	type tc struct {
		name    string
		arrange func(w *world)
		// act is the command run after arrange: a swap to B by another
		// operator unless set.
		act         func(w *world) (*Swap, error)
		wantErr     []string // substrings; none: no error
		wantImage   string
		wantStopped bool
		wantData    string
		wantResults []Result
		wantDetail  string // in the last history line
		more        func(t *testing.T, w *world, sw *Swap, err error)
	}
	unhealthy := func(name string) func(w *world) {
		return func(w *world) { w.unhealthy[name] = errors.New("no SSH answer within 5m0s: connection refused") }
	}
	then := func(fs ...func(w *world)) func(w *world) {
		return func(w *world) {
			for _, f := range fs {
				f(w)
			}
		}
	}
	killedAfter := func(step Step) func(w *world) { return func(w *world) { w.killedAfter(step, "B") } }
	failOnce := func(op string) func(w *world) { return func(w *world) { w.host.fail[op] = errBoom } }
	writes := func(name, data string) func(w *world) { return func(w *world) { w.writes[name] = data } }
	// dieInHealth kills the deployer in the first health wait of name.
	dieInHealth := func(name string, write string) func(w *world) {
		return func(w *world) {
			w.onHealth = func(n string) {
				if n == name {
					w.onHealth = nil
					if write != "" {
						w.setData(write)
					}
					panic(killed{})
				}
			}
		}
	}
	// killedInHealth runs a swap to B that dies during B's health wait.
	killedInHealth := func(w *world) {
		_, _, died := w.swap(testOperator, "B", "")
		require.True(w.t, died)
	}
	later := func(d time.Duration) func(w *world) { return func(w *world) { w.clock.advance(d) } }
	rollback := func(w *world) (*Swap, error) {
		sw, err, _ := w.run(w.deployer(otherOperator, "machine-1", ""), func(d *Deployer) (*Swap, error) {
			return d.Rollback(context.Background(), Now)
		})
		return sw, err
	}
	// abandonedElsewhere: a swap killed after stop by a deployer on
	// another machine, whose lock's beat is then `age` old.
	abandonedElsewhere := func(age time.Duration) func(w *world) {
		return func(w *world) {
			_, _, died := w.run(w.deployer("cy@far", "machine-2", StepStop), func(d *Deployer) (*Swap, error) {
				return d.Swap(context.Background(), w.img["B"], Now)
			})
			require.True(w.t, died)
			w.clock.advance(age)
		}
	}
	ok2 := []Result{ResultOK, ResultOK}
	rolledBack := []Result{ResultOK, ResultRolledBack}
	cases := []tc{
		{name: "a swap that succeeds", wantImage: "B", wantData: "members-v1", wantResults: ok2,
			more: func(t *testing.T, w *world, sw *Swap, _ error) {
				st := w.state()
				assert.Nil(t, st.Journal)
				assert.Nil(t, st.Lock)
				assert.Equal(t, w.img["A"].Digest, st.Previous.Digest)
				assert.Equal(t, w.img["B"].Digest, st.Current.Digest)
				assert.Equal(t, otherOperator, sw.Who)
				assert.Equal(t, 40.0, sw.Downtime, "from the stop to healthy")
				assert.Contains(t, w.out.String(), "the tools were down for 40 s")
				snaps, _ := w.host.Snapshots(context.Background(), w.env.Domain)
				assert.Equal(t, []string{"ostal-" + sw.ID}, snaps, "only the newest snapshot is kept")
			}},
		{name: "the new image is shut to the public until the commit, which opens it and leaves a definition that serves",
			wantImage: "B", wantData: "members-v1", wantResults: ok2,
			more: func(t *testing.T, w *world, sw *Swap, _ error) {
				assert.Equal(t, []string{"A", "B as " + sw.ID}, w.booted, "a first deployment serves at once; a swap's new image starts as its candidate")
				assert.Equal(t, []string{sw.ID}, w.opened)
				assert.Empty(t, w.candidate(false), "after the commit, a start by libvirt serves")
			}},
		{name: "the commit cannot open the ports: an error, and the next command commits",
			act: func(w *world) (*Swap, error) {
				w.openFails = errBoom
				_, err, _ := w.swap(otherOperator, "B", "")
				require.ErrorContains(w.t, err, "is healthy, but could not be committed: open the public ports of ostal-test: boom")
				require.Equal(w.t, StepCommit, w.state().Journal.Step)
				require.NotEmpty(w.t, w.candidate(false), "not committed: still the candidate")
				sw, err, _ := w.swap(otherOperator, "B", "")
				return sw, err
			},
			wantImage: "B", wantData: "members-v1", wantResults: ok2,
			more: func(t *testing.T, w *world, _ *Swap, _ error) {
				assert.Len(t, w.opened, 1)
				assert.Equal(t, 2, len(w.booted), "no second health wait")
				assert.Empty(t, w.candidate(false))
			}},
		{name: "a guest that ignores ACPI is cut off", arrange: func(w *world) { w.host.stubborn = true },
			wantImage: "B", wantData: "members-v1", wantResults: ok2,
			more: func(t *testing.T, w *world, _ *Swap, _ error) {
				assert.Contains(t, w.out.String(), "did not stop by itself")
			}},
		{name: "health fails: the previous image back on the data of before the swap",
			arrange:   then(unhealthy("B"), writes("B", "scribbled by B")),
			wantErr:   []string{"did not finish, so ostal-test runs its previous image again, with its data as before the swap", "no SSH answer"},
			wantImage: "A", wantData: "members-v1", wantResults: rolledBack, wantDetail: "no SSH answer within 5m0s",
			more: func(t *testing.T, w *world, sw *Swap, err error) {
				var rb *RolledBackError
				require.ErrorAs(t, err, &rb)
				assert.Equal(t, ResultRolledBack, sw.Result)
				assert.Equal(t, 1, w.host.calls["RevertSnapshot"])
				st := w.state()
				assert.Nil(t, st.Journal)
				assert.Equal(t, w.img["A"].Digest, st.Current.Digest, "the record still names A")
				assert.Equal(t, []string{"A", "B as " + sw.ID, "A"}, w.booted, "the previous image serves again at once")
				assert.Empty(t, w.opened, "the candidate never served the public")
				assert.Empty(t, w.candidate(false))
			}},
		{name: "health fails and the previous image is not healthy either",
			arrange: then(unhealthy("B"), unhealthy("A")),
			wantErr: []string{"the previous image is not healthy either"}, wantImage: "A", wantData: "members-v1",
			wantResults: rolledBack, wantDetail: "the previous image is not healthy either"},
		{name: "the stop fails: rolled back", arrange: then(func(w *world) { w.host.stubborn = true }, failOnce("Destroy")),
			wantErr: []string{"step stop: boom"}, wantImage: "A", wantData: "members-v1", wantResults: rolledBack, wantDetail: "step stop: boom"},
		{name: "the snapshot fails: rolled back, no data to put back", arrange: failOnce("Snapshot"),
			wantErr: []string{"step snapshot: boom"}, wantImage: "A", wantData: "members-v1", wantResults: rolledBack, wantDetail: "step snapshot: boom",
			more: func(t *testing.T, w *world, _ *Swap, _ error) { assert.Zero(t, w.host.calls["RevertSnapshot"]) }},
		{name: "the define fails: rolled back", arrange: failOnce("Define"),
			wantErr: []string{"step define: boom"}, wantImage: "A", wantData: "members-v1", wantResults: rolledBack, wantDetail: "step define: boom"},
		{name: "the start fails: rolled back", arrange: failOnce("Start"),
			wantErr: []string{"step start: boom"}, wantImage: "A", wantData: "members-v1", wantResults: rolledBack, wantDetail: "step start: boom"},
		{name: "the overlay cannot be made: undone, the guest never stopped", arrange: func(w *world) {
			w.push("B")
			w.host.fail["CreateVolume "+w.img["B"].Release(w.env.Domain).Overlay] = errBoom
		},
			wantErr: []string{"undone before the guest was stopped", "step overlay: boom"}, wantImage: "A", wantData: "members-v1",
			wantResults: []Result{ResultOK, ResultUndone}, wantDetail: "step overlay: boom",
			more: func(t *testing.T, w *world, _ *Swap, _ error) {
				assert.Zero(t, w.host.calls["Shutdown"])
				assert.NotContains(t, w.host.volumes, w.img["B"].Release(w.env.Domain).Overlay)
			}},
		{name: "the same image on a running guest: nothing to swap", act: func(w *world) (*Swap, error) {
			sw, err, _ := w.swap(otherOperator, "A", "")
			return sw, err
		}, wantImage: "A", wantData: "members-v1", wantResults: []Result{ResultOK},
			more: func(t *testing.T, w *world, sw *Swap, _ error) {
				assert.Nil(t, sw)
				assert.Contains(t, w.out.String(), "already runs image")
			}},
		{name: "the same image on a stopped guest: started again on its own layer",
			arrange: func(w *world) {
				require.NoError(t, w.host.Destroy(context.Background(), w.env.Domain))
				w.host.volumes[w.img["A"].Release(w.env.Domain).Overlay].data = []byte("A's root filesystem, written")
			},
			act: func(w *world) (*Swap, error) {
				sw, err, _ := w.swap(otherOperator, "A", "")
				return sw, err
			}, wantImage: "A", wantData: "members-v1", wantResults: ok2,
			more: func(t *testing.T, w *world, _ *Swap, _ error) {
				assert.Equal(t, "A's root filesystem, written", string(w.host.volumes[w.img["A"].Release(w.env.Domain).Overlay].data))
			}},
	}
	// Interrupted before the stop: undone, then the asked command runs.
	for _, step := range []Step{StepLock, StepOverlay} {
		cases = append(cases, tc{name: "interrupted after " + string(step) + ": undone, then the swap asked for",
			arrange: killedAfter(step), wantImage: "B", wantData: "members-v1",
			wantResults: []Result{ResultOK, ResultUndone, ResultOK},
			more: func(t *testing.T, w *world, _ *Swap, _ error) {
				h := w.state().History
				assert.Contains(t, h[1].Detail, "was interrupted at step "+string(step))
				assert.Equal(t, testOperator, h[1].Who)
				assert.Zero(t, h[1].Downtime)
				assert.Equal(t, otherOperator, h[2].Who)
			}})
	}
	// Interrupted after the stop: run on from the journal's step.
	for _, step := range []Step{StepStop, StepSnapshot, StepDefine, StepStart, StepHealth} {
		cases = append(cases, tc{name: "interrupted after " + string(step) + ": run on from there",
			arrange: then(killedAfter(step), func(w *world) {
				j := w.state().Journal
				require.Equal(t, step, j.Step)
				require.Equal(t, testOperator, w.state().Lock.Who)
			}),
			wantImage: "B", wantData: "members-v1", wantResults: ok2,
			more: func(t *testing.T, w *world, sw *Swap, _ error) {
				last := w.lastSwap()
				assert.Equal(t, testOperator, last.Who, "the history names who asked for the swap")
				assert.Positive(t, last.Downtime)
				assert.Equal(t, 1, w.host.calls["Snapshot"], "the snapshot is taken once")
				assert.Equal(t, 2, w.host.calls["Start"], "the first deployment's and B's")
				assert.Contains(t, w.out.String(), "was interrupted at step "+string(step))
				assert.Nil(t, w.state().Journal)
			}})
	}
	cases = append(cases, []tc{
		{name: "interrupted at commit: committed without another health wait",
			arrange: then(killedAfter(StepHealth), func(w *world) {
				w.edit(func(s *State) { s.Journal.Step = StepCommit })
				w.healthCalls = 0
			}),
			wantImage: "B", wantData: "members-v1", wantResults: ok2,
			more: func(t *testing.T, w *world, _ *Swap, _ error) { assert.Zero(t, w.healthCalls) }},
		{name: "a journal naming a step this ostal does not know",
			arrange: then(killedAfter(StepStop), func(w *world) { w.edit(func(s *State) { s.Journal.Step = "frobnicate" }) }),
			wantErr: []string{`names step "frobnicate", which this ostal does not know`}, wantStopped: true, wantImage: "A", wantData: "members-v1",
			wantResults: []Result{ResultOK}},
		{name: "interrupted long ago, healthy now: kept, with what it wrote",
			arrange:   then(writes("B", "written by B"), killedAfter(StepStart), later(10*time.Minute)),
			wantImage: "B", wantData: "written by B", wantResults: ok2,
			more: func(t *testing.T, w *world, _ *Swap, _ error) { assert.Zero(t, w.host.calls["RevertSnapshot"]) }},
		{name: "interrupted long ago, unhealthy now: the previous image on today's data, and B not retried",
			arrange:   then(writes("B", "written by B"), killedAfter(StepStart), later(10*time.Minute), unhealthy("B")),
			wantErr:   []string{"the interrupted swap", "was finished: rolled back", "nothing more was done: run the swap again to retry"},
			wantImage: "A", wantData: "written by B", wantResults: rolledBack, wantDetail: "the data written since is kept",
			more: func(t *testing.T, w *world, _ *Swap, _ error) { assert.Zero(t, w.host.calls["RevertSnapshot"]) }},
		{name: "a rollback that could not stop the new image, finished after the health timeout: today's data kept",
			arrange: then(unhealthy("B"), writes("B", "written by B"), failOnce("Destroy"), func(w *world) {
				_, err, _ := w.swap(testOperator, "B", "")
				require.ErrorContains(t, err, "roll back: boom")
				require.Equal(t, StepRollback, w.state().Journal.Step)
			}, later(10*time.Minute)),
			wantErr:   []string{"nothing more was done"},
			wantImage: "A", wantData: "written by B", wantResults: rolledBack, wantDetail: "the data written since is kept"},
		{name: "killed late in a long health wait, its heartbeat fresh, unhealthy now: aged from its boot, today's data kept",
			arrange: then(unhealthy("B"), writes("B", "written by B"), func(w *world) {
				w.onHealth = func(n string) {
					if n == "B" {
						w.onHealth = nil
						w.clock.advance(6 * time.Minute) // past the 5 minutes' timeout
						panic(killed{})
					}
				}
			}, killedInHealth, func(w *world) {
				// Its last beat came just before it died.
				w.edit(func(s *State) { s.Lock.Beat = w.clock.Now().UTC() })
			}),
			wantErr:   []string{"nothing more was done"},
			wantImage: "A", wantData: "written by B", wantResults: rolledBack, wantDetail: "possibly serving for 7m0s",
			more: func(t *testing.T, w *world, _ *Swap, _ error) { assert.Zero(t, w.host.calls["RevertSnapshot"]) }},
		{name: "a rollback cut short right after a health wait of the whole timeout: the disks are still reverted",
			arrange: then(unhealthy("B"), writes("B", "scribbled by B"), failOnce("Destroy"), func(w *world) {
				w.onHealth = func(string) { w.onHealth = nil; w.clock.advance(6 * time.Minute) }
				_, err, _ := w.swap(testOperator, "B", "")
				require.ErrorContains(t, err, "roll back: boom")
				// Its heartbeat went on through the wait, and stopped just now.
				w.edit(func(s *State) { s.Lock.Beat = w.clock.Now().UTC() })
			}),
			wantErr:   []string{"nothing more was done"},
			wantImage: "A", wantData: "members-v1", wantResults: rolledBack,
			more: func(t *testing.T, w *world, _ *Swap, _ error) { assert.Equal(t, 1, w.host.calls["RevertSnapshot"]) }},
		{name: "killed in the health wait of an unhealthy image: rolled back, that image not retried",
			arrange:   then(unhealthy("B"), writes("B", "scribbled by B"), dieInHealth("B", ""), killedInHealth),
			wantErr:   []string{"was finished: rolled back", "nothing more was done: run the swap again to retry"},
			wantImage: "A", wantData: "members-v1", wantResults: rolledBack},
		{name: "killed once the rollback put the data back: not put back again",
			arrange: then(unhealthy("B"), writes("B", "scribbled by B"), killedAfterRollbackData),
			wantErr: []string{"nothing more was done"}, wantImage: "A", wantData: "members-v1", wantResults: rolledBack,
			more: func(t *testing.T, w *world, _ *Swap, _ error) { assert.Equal(t, 1, w.host.calls["RevertSnapshot"]) }},
		{name: "killed while the previous image came back: what it wrote since stays, the disks are reverted once",
			arrange: then(unhealthy("B"), writes("B", "scribbled by B"), dieInHealth("A", "written by A after the revert"), killedInHealth),
			wantErr: []string{"nothing more was done"}, wantImage: "A", wantData: "written by A after the revert", wantResults: rolledBack,
			more: func(t *testing.T, w *world, _ *Swap, _ error) { assert.Equal(t, 1, w.host.calls["RevertSnapshot"]) }},
		{name: "the snapshot is gone: the rollback stops loudly, the guest left stopped",
			arrange: then(unhealthy("B"), writes("B", "scribbled by B"), killedAfter(StepStart), func(w *world) {
				w.host.domains[w.env.Domain].snapshots = nil
			}),
			wantErr:     []string{"snapshot ostal-", "is gone, so the data cannot be put back; the guest is left stopped"},
			wantStopped: true, wantImage: "B", wantData: "scribbled by B", wantResults: []Result{ResultOK},
			more: func(t *testing.T, w *world, _ *Swap, _ error) {
				assert.Equal(t, StepRollback, w.state().Journal.Step, "the journal stays for an admin")
			}},
		{name: "a live deployer on this machine: refused, naming who and since",
			arrange:     then(killedAfter(StepStop), func(w *world) { w.dead = map[int]bool{} }),
			wantErr:     []string{"ana@laptop has been swapping this domain since 2026-11-25", "(pid 101 on laptop, last sign of life 0s ago)"},
			wantStopped: true, wantImage: "A", wantData: "members-v1", wantResults: []Result{ResultOK},
			more: func(t *testing.T, w *world, _ *Swap, err error) {
				var le *LockedError
				require.ErrorAs(t, err, &le)
				assert.Contains(t, err.Error(), le.Lock.Since.Local().Format("2006-01-02 15:04:05"))
				assert.Equal(t, StepStop, w.state().Journal.Step, "left alone")
			}},
		{name: "another machine's lock, beat 30 s ago: refused",
			arrange: abandonedElsewhere(30 * time.Second),
			wantErr: []string{"cy@far has been swapping this domain", "last sign of life 30s ago"}, wantStopped: true, wantImage: "A",
			wantData: "members-v1", wantResults: []Result{ResultOK},
			more: func(t *testing.T, w *world, _ *Swap, _ error) {
				assert.NotContains(t, w.out.String(), "looks abandoned")
			}},
		{name: "another machine's lock, beat 150 s ago, silent one more beat: finished",
			arrange:   abandonedElsewhere(150 * time.Second),
			wantImage: "B", wantData: "members-v1", wantResults: ok2,
			more: func(t *testing.T, w *world, _ *Swap, _ error) {
				assert.Contains(t, w.out.String(), "looks abandoned (last sign of life 2m30s ago by this machine's clock); watching it for 25s")
				assert.Equal(t, "cy@far", w.lastSwap().Who)
			}},
		{name: "another machine's lock, beat 150 s ago, beating while watched: refused",
			arrange: then(abandonedElsewhere(150*time.Second), func(w *world) {
				w.clock.onAfter = func() { w.edit(func(s *State) { s.Lock.Beat = w.clock.Now() }) }
			}),
			wantErr: []string{"cy@far has been swapping this domain"}, wantStopped: true, wantImage: "A", wantData: "members-v1",
			wantResults: []Result{ResultOK}},
		{name: "gc refuses while a swap is half done", arrange: killedAfter(StepStop),
			act: func(w *world) (*Swap, error) {
				w.host.calls["DeleteVolume"] = 0
				_, err := w.deployer(otherOperator, "machine-1", "").GC(context.Background(), 0)
				return nil, err
			},
			wantErr:     []string{"is half done (at step stop); gc removes nothing until it is finished"},
			wantStopped: true, wantImage: "A", wantData: "members-v1", wantResults: []Result{ResultOK},
			more: func(t *testing.T, w *world, _ *Swap, _ error) { assert.Zero(t, w.host.calls["DeleteVolume"]) }},
		{name: "rollback to the previous image keeps today's data",
			arrange: func(w *world) { w.mustSwap("B"); w.setData("members-v2") }, act: rollback,
			wantImage: "A", wantData: "members-v2", wantResults: []Result{ResultOK, ResultOK, ResultOK},
			more: func(t *testing.T, w *world, _ *Swap, _ error) {
				assert.Equal(t, w.img["B"].Digest, w.state().Previous.Digest)
			}},
		{name: "rollback with only one image", act: rollback,
			wantErr: []string{"has run only one image", "there is no previous image to roll back to"}, wantImage: "A", wantData: "members-v1",
			wantResults: []Result{ResultOK}},
		{name: "rollback after a swap interrupted past the stop: the swap is finished, nothing more",
			arrange: killedAfter(StepDefine), act: rollback,
			wantErr:   []string{"was finished first: ok; ostal-test now runs", "Run the rollback again if you still want the image before it"},
			wantImage: "B", wantData: "members-v1", wantResults: ok2},
		{name: "rollback after a swap interrupted before the stop: undone, then the rollback",
			arrange: func(w *world) { w.mustSwap("B"); w.killedAfter(StepOverlay, "A") }, act: rollback,
			wantImage: "A", wantData: "members-v1", wantResults: []Result{ResultOK, ResultOK, ResultUndone, ResultOK}},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.mustSwap("A")
			w.setData("members-v1")
			if c.arrange != nil {
				c.arrange(w)
			}
			act := c.act
			if act == nil {
				act = func(w *world) (*Swap, error) {
					sw, err, died := w.swap(otherOperator, "B", "")
					require.False(t, died)
					return sw, err
				}
			}
			w.out.Reset()
			sw, err := act(w)
			w.expect(err, c.wantErr, c.wantImage, !c.wantStopped, c.wantData, c.wantResults)
			if c.wantDetail != "" {
				assert.Contains(t, w.lastSwap().Detail, c.wantDetail)
			}
			if c.more != nil {
				c.more(t, w, sw, err)
			}
			if t.Failed() {
				fmt.Println(w.out.String())
			}
		})
	}
}

// killedAfterRollbackData runs a swap to B that dies once its rollback
// has put the data back, before A starts again.
func killedAfterRollbackData(w *world) {
	_, _, died := w.swap(testOperator, "B", StepRollbackData)
	require.True(w.t, died)
	require.Equal(w.t, "members-v1", w.data())
	require.True(w.t, w.state().Journal.Reverted)
}
