package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RollbackOptions are a rollback's choices.
type RollbackOptions struct {
	Mode Mode
	// RestoreData puts the data volumes back as they were when the guest
	// stopped for the swap to the current image (that swap's snapshot),
	// so that the previous image finds the data at its own schema.
	RestoreData bool
	// Confirm is shown what RestoreData would throw away, before anything
	// is touched; false ends the rollback with ErrNotConfirmed. Nil
	// confirms (--yes).
	Confirm func(*DataLoss) bool
}

// ErrNotConfirmed is a rollback with --restore-data that its admin did not
// confirm.
var ErrNotConfirmed = errors.New("the rollback was not confirmed; nothing was done")

// DataLoss is what a rollback with --restore-data throws away: everything
// the guest wrote on its data volumes from Since until it stops.
type DataLoss struct {
	Domain string `json:"domain"`
	// Swap made the current image current; Snapshot is its snapshot of
	// the disks, taken at Since, with the previous image stopped.
	Swap     string    `json:"swap"`
	Snapshot string    `json:"snapshot"`
	Since    time.Time `json:"since"`
	Now      time.Time `json:"now"`
	// From is the image that comes back, To the one that goes.
	From Release `json:"previous"`
	To   Release `json:"current"`
}

// String says what would be lost, for an admin deciding.
func (l *DataLoss) String() string {
	return fmt.Sprintf("the data volumes of %s go back to %s (snapshot %s, taken when %s stopped for swap %s to %s), %s ago. "+
		"Everything written on them since, until the guest stops now, is lost: mail received and sent, list posts and archives, "+
		"wiki edits, WordPress posts and uploads, members' files, calendars and contacts, new members and passwords. "+
		"Today's data stays in the snapshot this rollback takes first, until the next swap",
		l.Domain, l.Since.Format("Mon 2006-01-02 15:04 MST"), l.Snapshot, describe(&l.From), l.Swap, describe(&l.To),
		span(l.Now.Sub(l.Since)))
}

// span is a duration as people say it: "2 days 3 h 5 min".
func span(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	days, h, min := m/(24*60), m/60%24, m%60
	s := ""
	if days > 0 {
		s = fmt.Sprintf("%d days ", days)
		if days == 1 {
			s = "1 day "
		}
	}
	if days > 0 || h > 0 {
		s += fmt.Sprintf("%d h ", h)
	}
	return s + fmt.Sprintf("%d min", min)
}

// restorePlan finds the snapshot a rollback with --restore-data puts back:
// that of the swap which made the current image current, from the
// previous one. ostal keeps only the newest swap's snapshot, so it exists
// only while no later swap took one.
func (d *Deployer) restorePlan(ctx context.Context, st *State, exists bool) (*DataLoss, error) {
	if !exists {
		return nil, fmt.Errorf("%s: domain: %s is not deployed on %s yet; nothing to roll back", d.Env.Path, d.Env.Domain, d.Env.URI)
	}
	if st.Journal != nil {
		return nil, fmt.Errorf("swap %s is half done (at step %s), so the data to restore are not settled; nothing was done. "+
			"Finish it first (`ostal deploy rollback %s` without --restore-data finishes it and stops), then run this again",
			st.Journal.ID, st.Journal.Step, d.Env.Name)
	}
	if st.Previous == nil || st.Current == nil {
		return nil, fmt.Errorf("%s has run only one image (%s): there is no previous image to roll back to", d.Env.Domain, describe(st.Current))
	}
	var sw *Swap
	for i := len(st.History) - 1; i >= 0; i-- {
		h := &st.History[i]
		if h.Result == ResultOK && h.To == st.Current.Digest && h.From == st.Previous.Digest {
			sw = h
			break
		}
	}
	if sw == nil {
		return nil, fmt.Errorf("the history of %s has no swap from %s to %s, so there is no snapshot of the data from before %s ran; nothing was done. "+
			"Roll back without --restore-data, or restore the data volumes from a backup", d.Env.Domain, describe(st.Previous), describe(st.Current), Short(st.Current.Digest))
	}
	name := "ostal-" + sw.ID
	has, err := d.host.HasSnapshot(ctx, d.Env.Domain, name)
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, fmt.Errorf("snapshot %s of the disks of %s, taken by swap %s from %s to %s, is gone (ostal keeps only the newest swap's snapshot: a later swap, "+
			"or someone with virsh, removed it; virsh snapshot-list %s), so the data cannot be restored by ostal; nothing was done. "+
			"Roll back without --restore-data (services whose data the current image upgraded stay down), or restore the data volumes from a backup",
			name, d.Env.Domain, sw.ID, describe(st.Previous), describe(st.Current), d.Env.Domain)
	}
	since := sw.Started
	if sw.SnapshotAt != nil {
		since = *sw.SnapshotAt
	} else if sw.Downtime > 0 {
		// A record without the time: the snapshot followed the stop.
		since = sw.Finished.Add(-time.Duration(sw.Downtime * float64(time.Second)))
	}
	return &DataLoss{Domain: d.Env.Domain, Swap: sw.ID, Snapshot: name, Since: since.UTC(), Now: d.clock.Now().UTC(),
		From: *st.Previous, To: *st.Current}, nil
}

// restoreData is a rollback's step restore-data: the data volumes (and
// the root layer of the previous image, which comes back) as the earlier
// swap's snapshot kept them. Run again before the guest starts, it only
// does the same again; once done, never again.
func (d *Deployer) restoreData(ctx context.Context, st *State) error {
	j := st.Journal
	if j.Restored {
		return nil
	}
	has, err := d.host.HasSnapshot(ctx, d.Env.Domain, j.RestoreFrom)
	if err != nil {
		return err
	}
	if !has {
		return fmt.Errorf("snapshot %s, whose data this rollback was to restore, is gone; the data of now come back with the image", j.RestoreFrom)
	}
	// Reverting also puts back the definition of then, with its record:
	// the record is written again at once, as after revert.
	if err := d.host.RevertSnapshot(ctx, d.Env.Domain, j.RestoreFrom); err != nil {
		return fmt.Errorf("restore the data of snapshot %s: %w", j.RestoreFrom, err)
	}
	if err := d.record(ctx, st, func(s *State) { s.Journal.Restored = true }); err != nil {
		return err
	}
	d.say("the data volumes are back as snapshot %s kept them; today's are in snapshot %s until the next swap", j.RestoreFrom, j.Snapshot)
	return nil
}
