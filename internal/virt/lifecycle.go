package virt

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// Define defines (or redefines) a domain from its typed XML.
func (c *Conn) Define(ctx context.Context, d *Domain) error {
	x, err := d.XML()
	if err != nil {
		return err
	}
	return c.call(ctx, fmt.Sprintf("define domain %q", d.Name), func() error {
		_, err := c.l.DomainDefineXML(x)
		return err
	})
}

func (c *Conn) domain(name string) (libvirt.Domain, error) {
	return c.l.DomainLookupByName(name)
}

// Start boots a defined domain.
func (c *Conn) Start(ctx context.Context, name string) error {
	return c.call(ctx, fmt.Sprintf("start domain %q", name), func() error {
		d, err := c.domain(name)
		if err != nil {
			return err
		}
		return c.l.DomainCreate(d)
	})
}

// Running reports whether a domain's QEMU process is alive (running,
// paused or still shutting down); a missing domain is not. A guest that
// has powered off but whose QEMU has not exited yet still runs: libvirt
// would refuse, or botch, what needs it stopped (a snapshot of its disks).
func (c *Conn) Running(ctx context.Context, name string) (bool, error) {
	var active int32
	err := c.call(ctx, fmt.Sprintf("read state of domain %q", name), func() error {
		d, err := c.domain(name)
		if err != nil {
			return err
		}
		active, err = c.l.DomainIsActive(d)
		return err
	})
	if IsNotFound(err) {
		return false, nil
	}
	return active == 1, err
}

// Shutdown asks the guest to power off (ACPI) and waits until it has, or
// until ctx ends; it returns how long the guest took. The request is
// repeated: a guest still booting ignores the first one.
func (c *Conn) Shutdown(ctx context.Context, name string) (time.Duration, error) {
	start := time.Now()
	ask := func() error {
		return c.call(ctx, fmt.Sprintf("shut down domain %q", name), func() error {
			d, err := c.domain(name)
			if err != nil {
				return err
			}
			return c.l.DomainShutdown(d)
		})
	}
	if err := ask(); err != nil {
		return 0, err
	}
	asked := time.Now()
	for {
		running, err := c.Running(ctx, name)
		if err != nil {
			return 0, err
		}
		if !running {
			return time.Since(start), nil
		}
		if time.Since(asked) > 15*time.Second {
			// A guest that stopped between the two calls is no error.
			if err := ask(); err != nil && !hasCode(err, libvirt.ErrOperationInvalid) {
				return 0, err
			}
			asked = time.Now()
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("domain %q did not power off after %s: %w", name, time.Since(start).Round(time.Second), ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Destroy stops a domain at once; a stopped or missing one is no error.
func (c *Conn) Destroy(ctx context.Context, name string) error {
	running, err := c.Running(ctx, name)
	if err != nil || !running {
		return err
	}
	return c.call(ctx, fmt.Sprintf("stop domain %q", name), func() error {
		d, err := c.domain(name)
		if err != nil {
			return err
		}
		return c.l.DomainDestroy(d)
	})
}

// Undefine stops and removes a domain with its UEFI variables and its
// snapshots' records (not their data, kept in the disks); a missing
// one is no error.
func (c *Conn) Undefine(ctx context.Context, name string) error {
	if err := c.Destroy(ctx, name); err != nil {
		return err
	}
	err := c.call(ctx, fmt.Sprintf("undefine domain %q", name), func() error {
		d, err := c.domain(name)
		if err != nil {
			return err
		}
		return c.l.DomainUndefineFlags(d, libvirt.DomainUndefineNvram|libvirt.DomainUndefineManagedSave|libvirt.DomainUndefineSnapshotsMetadata)
	})
	if IsNotFound(err) {
		return nil
	}
	return err
}

// Domains lists the names of all domains whose name starts with prefix.
func (c *Conn) Domains(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := c.call(ctx, "list domains", func() error {
		doms, _, err := c.l.ConnectListAllDomains(1, 0)
		for _, d := range doms {
			if strings.HasPrefix(d.Name, prefix) {
				names = append(names, d.Name)
			}
		}
		return err
	})
	return names, err
}
