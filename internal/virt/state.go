package virt

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/digitalocean/go-libvirt"
)

// DefinedDomain reads a domain's persistent definition (not the running
// one), so a redefinition keeps its UUID and what ostal does not manage.
func (c *Conn) DefinedDomain(ctx context.Context, name string) (*Domain, error) {
	var x string
	err := c.call(ctx, fmt.Sprintf("read definition of domain %q", name), func() error {
		d, err := c.domain(name)
		if err != nil {
			return err
		}
		x, err = c.l.DomainGetXMLDesc(d, libvirt.DomainXMLInactive)
		return err
	})
	if err != nil {
		return nil, err
	}
	var d Domain
	if err := xml.Unmarshal([]byte(x), &d); err != nil {
		return nil, fmt.Errorf("parse definition of domain %q: %w", name, err)
	}
	return &d, nil
}

// Metadata is the domain's metadata element in namespace ns ("" when it
// has none), from its persistent definition.
func (c *Conn) Metadata(ctx context.Context, name, ns string) (string, error) {
	var x string
	err := c.call(ctx, fmt.Sprintf("read %s metadata of domain %q", ns, name), func() error {
		d, err := c.domain(name)
		if err != nil {
			return err
		}
		x, err = c.l.DomainGetMetadata(d, int32(libvirt.DomainMetadataElement), libvirt.OptString{ns}, libvirt.DomainAffectConfig)
		return err
	})
	if hasCode(err, libvirt.ErrNoDomainMetadata) {
		return "", nil
	}
	return x, err
}

// SetMetadata replaces the domain's metadata element in namespace ns
// (prefix key) in its persistent definition, and in the running guest's
// too so `virsh dumpxml` shows the same.
func (c *Conn) SetMetadata(ctx context.Context, name, ns, key, inner string) error {
	running, err := c.Running(ctx, name)
	if err != nil {
		return err
	}
	flags := libvirt.DomainAffectConfig
	if running {
		flags |= libvirt.DomainAffectLive
	}
	set := func(flags libvirt.DomainModificationImpact) error {
		return c.call(ctx, fmt.Sprintf("write %s metadata of domain %q", ns, name), func() error {
			d, err := c.domain(name)
			if err != nil {
				return err
			}
			return c.l.DomainSetMetadata(d, int32(libvirt.DomainMetadataElement), libvirt.OptString{inner}, libvirt.OptString{key}, libvirt.OptString{ns}, flags)
		})
	}
	err = set(flags)
	if running && hasCode(err, libvirt.ErrOperationInvalid) {
		// It stopped between the two calls: the definition is what counts.
		err = set(libvirt.DomainAffectConfig)
	}
	return err
}

// Snapshot takes an internal snapshot of every disk of a stopped domain:
// qcow2 keeps the old clusters, so it is instant and reverting restores the
// disks bit for bit.
func (c *Conn) Snapshot(ctx context.Context, domain, name, description string, disks []string) error {
	type diskSnap struct {
		Name     string `xml:"name,attr"`
		Snapshot string `xml:"snapshot,attr"`
	}
	s := struct {
		XMLName     xml.Name   `xml:"domainsnapshot"`
		Name        string     `xml:"name"`
		Description string     `xml:"description"`
		Disks       []diskSnap `xml:"disks>disk"`
	}{Name: name, Description: description}
	for _, d := range disks {
		s.Disks = append(s.Disks, diskSnap{d, "internal"})
	}
	b, err := xml.Marshal(s)
	if err != nil {
		return fmt.Errorf("render snapshot %q: %w", name, err)
	}
	return c.call(ctx, fmt.Sprintf("snapshot domain %q as %q", domain, name), func() error {
		d, err := c.domain(domain)
		if err != nil {
			return err
		}
		_, err = c.l.DomainSnapshotCreateXML(d, string(b), 0)
		return err
	})
}

// HasSnapshot reports whether the domain has the named snapshot.
func (c *Conn) HasSnapshot(ctx context.Context, domain, name string) (bool, error) {
	err := c.call(ctx, fmt.Sprintf("look up snapshot %q of domain %q", name, domain), func() error {
		_, err := c.snapshot(domain, name)
		return err
	})
	if hasCode(err, libvirt.ErrNoDomainSnapshot) {
		return false, nil
	}
	return err == nil, err
}

// RevertSnapshot puts a stopped domain's disks (and definition) back as
// they were when the snapshot was taken.
func (c *Conn) RevertSnapshot(ctx context.Context, domain, name string) error {
	return c.call(ctx, fmt.Sprintf("revert domain %q to snapshot %q", domain, name), func() error {
		snap, err := c.snapshot(domain, name)
		if err != nil {
			return err
		}
		return c.l.DomainRevertToSnapshot(snap, 0)
	})
}

// DeleteSnapshot removes a snapshot; a missing one is no error.
func (c *Conn) DeleteSnapshot(ctx context.Context, domain, name string) error {
	err := c.call(ctx, fmt.Sprintf("delete snapshot %q of domain %q", name, domain), func() error {
		snap, err := c.snapshot(domain, name)
		if err != nil {
			return err
		}
		return c.l.DomainSnapshotDelete(snap, 0)
	})
	if hasCode(err, libvirt.ErrNoDomainSnapshot) {
		return nil
	}
	return err
}

// Snapshots lists a domain's snapshot names.
func (c *Conn) Snapshots(ctx context.Context, domain string) ([]string, error) {
	var names []string
	err := c.call(ctx, fmt.Sprintf("list snapshots of domain %q", domain), func() error {
		d, err := c.domain(domain)
		if err != nil {
			return err
		}
		snaps, _, err := c.l.DomainListAllSnapshots(d, 1, 0)
		for _, s := range snaps {
			names = append(names, s.Name)
		}
		return err
	})
	return names, err
}

func (c *Conn) snapshot(domain, name string) (libvirt.DomainSnapshot, error) {
	d, err := c.domain(domain)
	if err != nil {
		return libvirt.DomainSnapshot{}, err
	}
	return c.l.DomainSnapshotLookupByName(d, name, 0)
}

func hasCode(err error, code libvirt.ErrorNumber) bool {
	var lerr libvirt.Error
	return errors.As(err, &lerr) && libvirt.ErrorNumber(lerr.Code) == code
}
