package deploy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpan(t *testing.T) {
	assert.Equal(t, "0 min", span(20*time.Second))
	assert.Equal(t, "3 h 1 min", span(3*time.Hour+time.Minute))
	assert.Equal(t, "1 day 0 h 5 min", span(24*time.Hour+5*time.Minute))
	assert.Equal(t, "9 days 2 h 0 min", span(9*24*time.Hour+2*time.Hour))
}

// TestRollbackRestoreData: a domain ran A on the data "members-v1", was
// swapped to B, which upgraded them to "upgraded by B"; then an admin
// rolls back, with or without --restore-data. What the admin sees after:
// the image, the data, the history, the error.
func TestRollbackRestoreData(t *testing.T) {
	type tc struct {
		name    string
		arrange func(w *world)
		restore bool
		confirm bool
		stopAt  Step // the rollback's deployer dies after this step
		wantErr []string
		// after a rollback that died: the next rollback finishes it
		rerun       bool
		wantImage   string
		wantData    string
		wantResults []Result
		more        func(t *testing.T, w *world, sw *Swap, loss *DataLoss)
	}
	ok3 := []Result{ResultOK, ResultOK, ResultOK}
	cases := []tc{
		{name: "without --restore-data: today's data kept", restore: false,
			wantImage: "A", wantData: "upgraded by B", wantResults: ok3,
			more: func(t *testing.T, w *world, sw *Swap, loss *DataLoss) {
				assert.Nil(t, loss, "nothing to confirm")
				assert.Empty(t, sw.RestoredFrom)
				assert.Zero(t, w.host.calls["RevertSnapshot"])
			}},
		{name: "with --restore-data: the data of before the swap to B come back", restore: true, confirm: true,
			wantImage: "A", wantData: "members-v1", wantResults: ok3,
			more: func(t *testing.T, w *world, sw *Swap, loss *DataLoss) {
				toB := w.state().History[1]
				require.NotNil(t, loss, "asked first")
				require.NotNil(t, toB.SnapshotAt, "the swap to B recorded when it took its snapshot")
				assert.Equal(t, "ostal-"+toB.ID, loss.Snapshot)
				assert.Equal(t, *toB.SnapshotAt, loss.Since)
				assert.InDelta(t, 3*time.Hour, loss.Now.Sub(loss.Since), float64(2*time.Minute), "the span that is lost")
				text := loss.String()
				for _, s := range []string{"go back to Wed 2026-11-25 04:00 UTC", "snapshot ostal-" + toB.ID, "3 h 1 min ago", "is lost", "mail", "wiki edits", "uploads",
					"Today's data stays in the snapshot this rollback takes first"} {
					assert.Contains(t, text, s)
				}
				assert.Equal(t, loss.Snapshot, sw.RestoredFrom)
				assert.Equal(t, 1, w.host.calls["RevertSnapshot"])
				assert.Contains(t, w.out.String(), "today's are in snapshot ostal-"+sw.ID+" until the next swap")
				// Today's data are kept aside until the next swap.
				snaps, _ := w.host.Snapshots(context.Background(), w.env.Domain)
				assert.ElementsMatch(t, []string{loss.Snapshot, "ostal-" + sw.ID}, snaps)
				require.NoError(t, w.host.RevertSnapshot(context.Background(), w.env.Domain, "ostal-"+sw.ID))
				assert.Equal(t, "upgraded by B", w.data())
			}},
		{name: "not confirmed: nothing done", restore: true, confirm: false,
			wantErr: []string{"not confirmed; nothing was done"}, wantImage: "B", wantData: "upgraded by B", wantResults: []Result{ResultOK, ResultOK},
			more: func(t *testing.T, w *world, _ *Swap, loss *DataLoss) {
				assert.NotNil(t, loss)
				assert.Zero(t, w.host.calls["Shutdown"])
			}},
		{name: "snapshot missing: a clear error, nothing done", restore: true, confirm: true,
			arrange: func(w *world) { w.host.domains[w.env.Domain].snapshots = nil },
			wantErr: []string{"snapshot ostal-", "taken by swap", "is gone", "virsh snapshot-list ostal-test", "nothing was done",
				"Roll back without --restore-data", "restore the data volumes from a backup"},
			wantImage: "B", wantData: "upgraded by B", wantResults: []Result{ResultOK, ResultOK},
			more: func(t *testing.T, w *world, _ *Swap, loss *DataLoss) {
				assert.Nil(t, loss, "nothing to confirm")
				assert.Zero(t, w.host.calls["Shutdown"])
			}},
		{name: "a later failed swap replaced the snapshot: a clear error", restore: true, confirm: true,
			arrange: func(w *world) {
				w.unhealthy["A"] = fmt.Errorf("www: the data are newer")
				_, err, _ := w.swap(testOperator, "A", "")
				require.Error(t, err)
				delete(w.unhealthy, "A")
				w.setData("upgraded by B")
			},
			wantErr:   []string{"is gone (ostal keeps only the newest swap's snapshot", "nothing was done"},
			wantImage: "B", wantData: "upgraded by B", wantResults: []Result{ResultOK, ResultOK, ResultRolledBack}},
		{name: "the previous image is unhealthy even so: B back on today's data", restore: true, confirm: true,
			arrange:   func(w *world) { w.unhealthy["A"] = fmt.Errorf("www: WordPress does not answer") },
			wantErr:   []string{"runs its previous image again, with its data as before the swap", "WordPress does not answer"},
			wantImage: "B", wantData: "upgraded by B", wantResults: []Result{ResultOK, ResultOK, ResultRolledBack},
			more: func(t *testing.T, w *world, _ *Swap, _ *DataLoss) {
				assert.Equal(t, 2, w.host.calls["RevertSnapshot"], "the restore, then today's data back")
			}},
		{name: "killed once the data were restored: finished by the next run, restored once", restore: true, confirm: true,
			stopAt: StepRestoreData, rerun: true,
			wantErr:   []string{"was finished first: ok"},
			wantImage: "A", wantData: "members-v1", wantResults: ok3,
			more: func(t *testing.T, w *world, _ *Swap, _ *DataLoss) {
				assert.Equal(t, 1, w.host.calls["RevertSnapshot"])
				assert.NotEmpty(t, w.lastSwap().RestoredFrom)
			}},
		{name: "killed after its own snapshot: the next run restores", restore: true, confirm: true,
			stopAt: StepSnapshot, rerun: true,
			wantErr:   []string{"was finished first: ok"},
			wantImage: "A", wantData: "members-v1", wantResults: ok3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.mustSwap("A")
			w.setData("members-v1")
			w.clock.advance(time.Hour)
			w.mustSwap("B")
			w.setData("upgraded by B")
			w.clock.advance(3 * time.Hour)
			if c.arrange != nil {
				c.arrange(w)
			}
			w.host.calls = map[string]int{}
			w.out.Reset()
			var loss *DataLoss
			o := RollbackOptions{Mode: Now, RestoreData: c.restore, Confirm: func(l *DataLoss) bool { loss = l; return c.confirm }}
			sw, err, died := w.run(w.deployer(otherOperator, "machine-1", c.stopAt), func(d *Deployer) (*Swap, error) {
				return d.RollbackWith(context.Background(), o)
			})
			require.Equal(t, c.stopAt != "", died, "%v", err)
			if c.rerun {
				sw, err, _ = w.run(w.deployer(otherOperator, "machine-1", ""), func(d *Deployer) (*Swap, error) {
					return d.Rollback(context.Background(), Now)
				})
			}
			w.expect(err, c.wantErr, c.wantImage, true, c.wantData, c.wantResults)
			if c.more != nil {
				c.more(t, w, sw, loss)
			}
			if t.Failed() {
				fmt.Println(w.out.String())
			}
		})
	}
}

// expect checks what a command left: its error (no error when wantErr
// is empty, else one holding each substring), the image under the
// domain's disk, whether the guest runs, the data volume and the history.
func (w *world) expect(err error, wantErr []string, image string, running bool, data string, results []Result) {
	t := w.t
	t.Helper()
	if len(wantErr) == 0 {
		require.NoError(t, err)
	} else {
		require.Error(t, err)
		for _, s := range wantErr {
			assert.Contains(t, err.Error(), s)
		}
	}
	assert.Equal(t, image, w.imageName(), "the image under the domain's disk")
	assert.Equal(t, running, w.running(), "the guest runs")
	assert.Equal(t, data, w.data(), "the data volume")
	assert.Equal(t, results, w.results(), "the history")
}
