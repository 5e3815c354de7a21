package deploy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ostal/ostal/internal/virt"
)

// Rollback swaps back to the previous image, keeping today's data (the
// previous image refuses a data layout newer than its own, and each of
// its services a schema newer than its own, and says so).
func (d *Deployer) Rollback(ctx context.Context, mode Mode) (*Swap, error) {
	return d.RollbackWith(ctx, RollbackOptions{Mode: mode})
}

// RollbackWith swaps back to the previous image; with RestoreData the data
// volumes come back too, as the snapshot of the swap to the current image
// kept them, once Confirm has accepted what would be lost.
func (d *Deployer) RollbackWith(ctx context.Context, o RollbackOptions) (*Swap, error) {
	if err := d.preflight(); err != nil {
		return nil, err
	}
	var loss *DataLoss
	if o.RestoreData {
		// Asked before any wait for the window: the admin is there now.
		st, exists, err := d.load(ctx)
		if err != nil {
			return nil, err
		}
		if loss, err = d.restorePlan(ctx, st, exists); err != nil {
			return nil, err
		}
		if o.Confirm != nil && !o.Confirm(loss) {
			return nil, ErrNotConfirmed
		}
	}
	if err := d.waitWindow(ctx, o.Mode); err != nil {
		return nil, err
	}
	st, exists, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("%s: domain: %s is not deployed on %s yet; nothing to roll back", d.Env.Path, d.Env.Domain, d.Env.URI)
	}
	if sw, err := d.Recover(ctx, st); err != nil {
		return nil, err
	} else if sw != nil && sw.Result != ResultUndone {
		// Finishing it changed what "previous" means: say so, do no more.
		return sw, fmt.Errorf("an interrupted swap, %s, was finished first: %s; %s now runs %s. Run the rollback again if you still want the image before it",
			sw.ID, sw.Result, d.Env.Domain, describe(st.Current))
	}
	if st.Previous == nil {
		return nil, fmt.Errorf("%s has run only one image (%s): there is no previous image to roll back to", d.Env.Domain, describe(st.Current))
	}
	restore := ""
	if loss != nil {
		// What was confirmed is what is done: not another snapshot that
		// a swap by someone else made meanwhile.
		now, err := d.restorePlan(ctx, st, true)
		if err != nil {
			return nil, err
		}
		if now.Snapshot != loss.Snapshot {
			return nil, fmt.Errorf("the deployment changed since you confirmed (the data to restore are now those of snapshot %s, not %s); nothing was done: run the rollback again",
				now.Snapshot, loss.Snapshot)
		}
		restore = loss.Snapshot
	}
	return d.swapTo(ctx, st, *st.Previous, true, restore)
}

// Status is what runs where, and since when.
type Status struct {
	Environment string   `json:"environment"`
	URI         string   `json:"uri"`
	Domain      string   `json:"domain"`
	Deployed    bool     `json:"deployed"`
	Running     bool     `json:"running"`
	Current     *Release `json:"current,omitempty"`
	Previous    *Release `json:"previous,omitempty"`
	Swapping    *Journal `json:"swap_in_progress,omitempty"`
	Lock        *Lock    `json:"lock,omitempty"`
	// Health is the guest's own report (/usr/lib/ostal/health), or why
	// it could not be read.
	Health  string `json:"health,omitempty"`
	Healthy bool   `json:"healthy"`
}

// Status reads the record and asks the guest how it is; it changes
// nothing.
func (d *Deployer) Status(ctx context.Context) (*Status, error) {
	s := &Status{Environment: d.Env.Path, URI: d.Env.URI, Domain: d.Env.Domain}
	st, exists, err := d.load(ctx)
	if err != nil || !exists {
		return s, err
	}
	s.Deployed, s.Current, s.Previous, s.Swapping, s.Lock = true, st.Current, st.Previous, st.Journal, st.Lock
	if s.Running, err = d.host.Running(ctx, d.Env.Domain); err != nil {
		return s, err
	}
	if !s.Running || st.Current == nil {
		s.Health = "not running"
		return s, nil
	}
	g, err := d.newGuest(st, *st.Current)
	if err != nil {
		s.Health = err.Error()
		return s, nil
	}
	defer g.session.Close()
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := g.Run(hctx, "if [ -x /usr/lib/ostal/health ]; then /usr/lib/ostal/health; else echo ok; fi")
	s.Health, s.Healthy = strings.TrimSpace(out), err == nil
	if err != nil && s.Health == "" {
		s.Health = err.Error()
	}
	return s, nil
}

// History is every swap, oldest first.
func (d *Deployer) History(ctx context.Context) ([]Swap, error) {
	st, _, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	return st.History, nil
}

// GCResult lists what gc removed and kept.
type GCResult struct {
	Removed []string `json:"removed"`
	Kept    []string `json:"kept"`
}

// GC removes pushed images (and their overlays) beyond the newest keep,
// never the current or previous one, and never a data volume: it only
// looks at volumes named like ostal's images.
func (d *Deployer) GC(ctx context.Context, keep int) (res *GCResult, err error) {
	st, _, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	if st.Journal != nil {
		return nil, fmt.Errorf("swap %s is half done (at step %s); gc removes nothing until it is finished: run `ostal deploy swap %s` "+
			"(it finishes it first)", st.Journal.ID, st.Journal.Step, d.Env.Name)
	}
	// A swap taking the domain meanwhile might need what gc removes.
	if err := d.takeOver(ctx, st); err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, d.unlock(ctx, st)) }()
	names, err := d.host.Volumes(ctx)
	if err != nil {
		return nil, err
	}
	protected := map[string]bool{}
	for _, r := range []*Release{st.Current, st.Previous} {
		if r != nil {
			protected[r.Digest] = true
		}
	}
	// Whatever the record says, the image under the domain's own disk
	// stays (after a failed first deployment there is no current one).
	inUse := ""
	if def, err := d.host.DefinedDomain(ctx, d.Env.Domain); err == nil && len(def.Devices.Disks) > 0 {
		inUse = filepath.Base(def.Devices.Disks[0].Source.File)
	} else if err != nil && !virt.IsNotFound(err) {
		return nil, err
	}
	// Newest first, by when each image last became current.
	lastUsed := map[string]time.Time{}
	for _, h := range st.History {
		lastUsed[h.To] = h.Finished
	}
	var images []string
	for _, n := range names {
		if strings.HasPrefix(n, "sha256-") && strings.HasSuffix(n, ".qcow2") {
			images = append(images, strings.TrimSuffix(strings.TrimPrefix(n, "sha256-"), ".qcow2"))
		}
	}
	// An image under another domain's overlay in the same pool is that
	// domain's to keep.
	for _, n := range names {
		if i := strings.LastIndex(n, "-root-"); i >= 0 && !strings.HasPrefix(n, d.Env.Domain+"-root-") {
			short := strings.TrimSuffix(n[i+len("-root-"):], ".qcow2")
			for _, digest := range images {
				if strings.HasPrefix(digest, short) {
					protected[digest] = true
				}
			}
		}
	}
	sort.SliceStable(images, func(i, j int) bool { return lastUsed[images[i]].After(lastUsed[images[j]]) })
	res = &GCResult{}
	kept := 0
	for _, digest := range images {
		if overlayName(d.Env.Domain, digest) == inUse {
			protected[digest] = true
		}
	}
	for _, digest := range images {
		if protected[digest] || kept < keep {
			kept++
			res.Kept = append(res.Kept, "sha256-"+digest+".qcow2")
			continue
		}
		for _, v := range []string{overlayName(d.Env.Domain, digest), "sha256-" + digest + ".qcow2"} {
			if err := d.host.DeleteVolume(ctx, v); err != nil {
				return res, err
			}
			res.Removed = append(res.Removed, v)
		}
	}
	return res, nil
}

// Restart stops the guest (ACPI, then cut off) and starts it on the same
// image, and returns how long it was without service until healthy: a
// plain reboot, the yardstick of a swap's downtime.
func (d *Deployer) Restart(ctx context.Context) (time.Duration, error) {
	st, exists, err := d.load(ctx)
	if err != nil {
		return 0, err
	}
	if !exists || st.Current == nil {
		return 0, fmt.Errorf("%s is not deployed yet", d.Env.Domain)
	}
	start := time.Now()
	if err := d.stopGuest(ctx); err != nil {
		return 0, err
	}
	if err := d.start(ctx); err != nil {
		return 0, err
	}
	if err := d.health(ctx, st, *st.Current); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
