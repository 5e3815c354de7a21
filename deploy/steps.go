package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/internal/virt"
)

// shutdownGrace is how long the guest gets to stop by itself (ACPI)
// before it is cut off.
const shutdownGrace = 2 * time.Minute

func (d *Deployer) stopGuest(ctx context.Context) error {
	running, err := d.host.Running(ctx, d.Env.Domain)
	if err != nil || !running {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, shutdownGrace)
	defer cancel()
	took, err := d.host.Shutdown(sctx, d.Env.Domain)
	if err == nil {
		d.say("the guest stopped in %.1f s", took.Seconds())
		return nil
	}
	d.say("the guest did not stop by itself (%v): cutting it off", err)
	return d.host.Destroy(ctx, d.Env.Domain)
}

// snapshot keeps every disk as it is now that the guest is stopped. Only
// this newest snapshot is kept: older ones only grow the data volumes, and
// libvirt deletes internal snapshots only while the guest is stopped.
func (d *Deployer) snapshot(ctx context.Context, st *State) error {
	names, err := d.host.Snapshots(ctx, d.Env.Domain)
	if err != nil {
		return err
	}
	for _, n := range names {
		// A rollback with --restore-data keeps the snapshot it puts back.
		if strings.HasPrefix(n, "ostal-") && n != st.Journal.Snapshot && n != st.Journal.RestoreFrom {
			if err := d.host.DeleteSnapshot(ctx, d.Env.Domain, n); err != nil {
				d.say("warning: an old snapshot stays: %v", err)
			}
		}
	}
	def, err := d.host.DefinedDomain(ctx, d.Env.Domain)
	if err != nil {
		return err
	}
	var devs []string
	for _, disk := range def.Devices.Disks {
		devs = append(devs, disk.Target.Dev)
	}
	j := st.Journal
	if has, err := d.host.HasSnapshot(ctx, d.Env.Domain, j.Snapshot); err != nil || has {
		return err
	}
	return d.host.Snapshot(ctx, d.Env.Domain, j.Snapshot, fmt.Sprintf("ostal: the disks before swap %s to %s", j.ID, Short(j.To.Digest)), devs)
}

// define points the domain at a release's overlay with the environment's
// data volumes, carrying the record along. With candidate (a swap's ID)
// the guest boots as that swap's candidate: shut to the public until
// the commit.
func (d *Deployer) define(ctx context.Context, st *State, rel Release, candidate string) error {
	var dk disks
	var err error
	if dk.Overlay, err = d.host.VolumePath(ctx, rel.Overlay); err != nil {
		return err
	}
	for _, dv := range d.Env.DataVolumes {
		p, err := d.host.VolumePath(ctx, d.Env.VolumeName(dv))
		if err != nil {
			return err
		}
		dk.Data = append(dk.Data, p)
	}
	uuid := ""
	if def, err := d.host.DefinedDomain(ctx, d.Env.Domain); err == nil {
		uuid = def.UUID
	} else if !virt.IsNotFound(err) {
		return err
	}
	signer, _, err := deployerKey(d.Env)
	if err != nil {
		return err
	}
	creds, err := guestCredentials(d.Env, string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	if err != nil {
		return err
	}
	if candidate != "" {
		creds[candidateCredential] = candidate
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// The definition carries the record: written by the lock's holder only.
	if err := d.stillHolder(ctx); err != nil {
		return err
	}
	x, err := st.xml()
	if err != nil {
		return err
	}
	return d.host.Define(ctx, domainXML(d.Env, uuid, dk, creds, x))
}

// ensureOverlay makes the domain's writable layer on an image: a fresh
// one for a new image (the root filesystem holds nothing to keep), the
// old one when going back to an image.
func (d *Deployer) ensureOverlay(ctx context.Context, rel Release, reuse bool) error {
	if _, err := d.host.VolumePath(ctx, rel.Overlay); err == nil {
		if reuse {
			return nil
		}
		if err := d.host.DeleteVolume(ctx, rel.Overlay); err != nil {
			return err
		}
	} else if !virt.IsNotFound(err) {
		return err
	}
	base, err := d.host.VolumePath(ctx, rel.Volume)
	if err != nil {
		return fmt.Errorf("image %s is not in pool %q: %w; push it first (ostal deploy push %s)", Short(rel.Digest), d.Env.Pool, err, d.Env.Name)
	}
	_, err = d.host.CreateVolume(ctx, virt.Volume{Name: rel.Overlay, Capacity: virt.Capacity{Unit: "B", Value: rel.Size},
		Target:       virt.VolumeTarget{Format: virt.Format{Type: "qcow2"}, Compat: "1.1"},
		BackingStore: &virt.BackingStore{Path: base, Format: virt.Format{Type: "qcow2"}}})
	return err
}

// firstDeploy creates the domain: data volumes (or the ones an earlier
// domain of that name left), the overlay, the definition.
func (d *Deployer) firstDeploy(ctx context.Context, to Release) (*Swap, error) {
	if err := d.takeOver(ctx, &State{}); err != nil {
		return nil, err
	}
	d.say("first deployment of %s on %s", d.Env.Domain, d.Env.URI)
	if err := d.checkDataVolumes(ctx); err != nil {
		return nil, errors.Join(err, d.unlock(ctx, &State{}))
	}
	if err := d.ensureOverlay(ctx, to, false); err != nil {
		return nil, errors.Join(err, d.unlock(ctx, &State{}))
	}
	// The definition carries the journal from the start: a first
	// deployment interrupted anywhere is finished like any swap.
	now := d.clock.Now().UTC()
	st := &State{Lock: d.newLock(), Journal: &Journal{ID: newSwapID(now), Who: d.who, Step: StepDefine, Started: now, Stopped: now, To: to}}
	if err := d.define(ctx, st, to, ""); err != nil {
		return nil, err
	}
	stopBeat := d.heartbeat(ctx, st)
	defer stopBeat()
	return d.resume(ctx, st, StepDefine)
}

// checkDataVolumes creates the data volumes that the domain never had and
// refuses any plan that would lose data: a volume left out of the
// environment, one that would shrink, one the domain has elsewhere, one
// the domain has but the pool lost (a new, empty one in its place would
// start every service from nothing: Knot with a new DNSSEC key).
func (d *Deployer) checkDataVolumes(ctx context.Context) error {
	def, err := d.host.DefinedDomain(ctx, d.Env.Domain)
	if err != nil && !virt.IsNotFound(err) {
		return err
	}
	attached := map[string]virt.Disk{}
	if def != nil {
		for _, disk := range def.Devices.Disks {
			if disk.Target.Dev != "vda" && disk.Device == "disk" {
				attached[disk.Serial] = disk
			}
		}
	}
	want := map[string]bool{}
	var problems []string
	var create []DataVolume // made only once the whole plan is sound
	for i, dv := range d.Env.DataVolumes {
		want[dv.Name] = true
		name := d.Env.VolumeName(dv)
		capacity, _, err := d.host.VolumeSize(ctx, name)
		if disk, had := attached[dv.Name]; virt.IsNotFound(err) && had {
			problems = append(problems, fmt.Sprintf("data_volumes[%d]: volume %s is missing from pool %q, though domain %s has it as its disk %s (%s): "+
				"ostal never makes a data volume again; restore it from a backup into pool %q as %s, "+
				"or, only to start that volume's services from nothing, detach the disk (virsh detach-disk %s %s --config) and run again",
				i, name, d.Env.Pool, d.Env.Domain, disk.Target.Dev, diskSource(disk), d.Env.Pool, name, d.Env.Domain, disk.Target.Dev))
			continue
		}
		if virt.IsNotFound(err) {
			create = append(create, dv)
			continue
		}
		if err != nil {
			return err
		}
		switch {
		case capacity > dv.SizeBytes():
			problems = append(problems, fmt.Sprintf("data_volumes[%d].size: %q is smaller than volume %s (%d MiB): ostal never shrinks a data volume; set it back to at least %dMiB",
				i, dv.Size, name, capacity>>20, capacity>>20))
		case capacity < dv.SizeBytes():
			problems = append(problems, fmt.Sprintf("data_volumes[%d].size: %q is larger than volume %s (%d MiB): ostal does not grow data volumes; "+
				"grow it yourself while the guest is stopped (virsh vol-resize, then resize2fs in the guest), or set the size back to %dMiB",
				i, dv.Size, name, capacity>>20, capacity>>20))
		}
	}
	for _, serial := range slices.Sorted(maps.Keys(attached)) {
		if disk := attached[serial]; !want[serial] {
			problems = append(problems, fmt.Sprintf("data_volumes: domain %s has a data disk %s (serial %q, %s) that the environment leaves out; "+
				"ostal never detaches or deletes data: add it back to data_volumes", d.Env.Domain, disk.Target.Dev, disk.Serial, diskSource(disk)))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: nothing was changed:\n  %s", d.Env.Path, strings.Join(problems, "\n  "))
	}
	for _, dv := range create {
		name := d.Env.VolumeName(dv)
		if _, err := d.host.CreateVolume(ctx, virt.Volume{Name: name, Capacity: virt.Capacity{Unit: "B", Value: dv.SizeBytes()},
			Target: virt.VolumeTarget{Format: virt.Format{Type: "qcow2"}, Compat: "1.1"}}); err != nil {
			return err
		}
		d.say("created data volume %s (%s)", name, dv.Size)
	}
	return nil
}

// waitWindow holds a swap until the maintenance window, or refuses it.
func (d *Deployer) waitWindow(ctx context.Context, mode Mode) error {
	if mode == Now || d.Env.Maintenance.Window == "" {
		return nil
	}
	loc, err := time.LoadLocation(d.Env.Maintenance.Timezone)
	if err != nil {
		return fmt.Errorf("%s: maintenance.timezone: %w", d.Env.Path, err)
	}
	w, err := ParseWindow(d.Env.Maintenance.Window, loc)
	if err != nil {
		return fmt.Errorf("%s: maintenance.window: %w", d.Env.Path, err)
	}
	now := d.clock.Now()
	if w.Contains(now) {
		return nil
	}
	start, _ := w.Next(now)
	if mode == InWindowOnly {
		return fmt.Errorf("it is outside the maintenance window (%s, %s), which opens in %s at %s; "+
			"pass --in-window to wait for it, or --now to swap at once", w, loc, start.Sub(now).Round(time.Minute), start.In(loc).Format("Mon 2006-01-02 15:04"))
	}
	d.say("waiting %s for the maintenance window (%s, %s)", start.Sub(now).Round(time.Minute), w, loc)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-d.clock.After(start.Sub(now)):
		return nil
	}
}

// diskSource says where a disk of the definition lives.
func diskSource(disk virt.Disk) string {
	if disk.Source.File != "" {
		return disk.Source.File
	}
	return fmt.Sprintf("volume %s of pool %s", disk.Source.Volume, disk.Source.Pool)
}
