package virt

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"

	"github.com/digitalocean/go-libvirt"
)

// PoolXML is a directory storage pool.
type PoolXML struct {
	XMLName xml.Name   `xml:"pool"`
	Type    string     `xml:"type,attr"`
	Name    string     `xml:"name"`
	Target  PoolTarget `xml:"target"`
}

type PoolTarget struct {
	Path string `xml:"path"`
}

// Volume is a storage volume: an image, an overlay on one (BackingStore)
// or a data volume.
type Volume struct {
	XMLName      xml.Name      `xml:"volume"`
	Name         string        `xml:"name"`
	Capacity     Capacity      `xml:"capacity"`
	Allocation   *Capacity     `xml:"allocation,omitempty"`
	Target       VolumeTarget  `xml:"target"`
	BackingStore *BackingStore `xml:"backingStore,omitempty"`
}

type Capacity struct {
	Unit  string `xml:"unit,attr"`
	Value uint64 `xml:",chardata"`
}

type VolumeTarget struct {
	Format Format `xml:"format"`
	Path   string `xml:"path,omitempty"`
	// Compat "1.1" makes a current qcow2 (libvirt defaults to 0.10).
	Compat string `xml:"compat,omitempty"`
}

type Format struct {
	Type string `xml:"type,attr"`
}

type BackingStore struct {
	Path   string `xml:"path"`
	Format Format `xml:"format"`
}

// EnsurePool returns the named directory pool, defining, building and
// starting it when needed.
func (c *Conn) EnsurePool(ctx context.Context, name, path string) (libvirt.StoragePool, error) {
	var pool libvirt.StoragePool
	err := c.call(ctx, fmt.Sprintf("look up pool %q", name), func() (err error) {
		pool, err = c.l.StoragePoolLookupByName(name)
		return err
	})
	if IsNotFound(err) {
		b, merr := xml.Marshal(PoolXML{Type: "dir", Name: name, Target: PoolTarget{Path: path}})
		if merr != nil {
			return pool, fmt.Errorf("render pool %q: %w", name, merr)
		}
		err = c.call(ctx, fmt.Sprintf("define pool %q at %s", name, path), func() (err error) {
			if pool, err = c.l.StoragePoolDefineXML(string(b), 0); err != nil {
				return err
			}
			return c.l.StoragePoolBuild(pool, 0)
		})
	}
	if err != nil {
		return pool, err
	}
	var state uint8
	err = c.call(ctx, fmt.Sprintf("start pool %q", name), func() (err error) {
		if state, _, _, _, err = c.l.StoragePoolGetInfo(pool); err != nil {
			return err
		}
		if libvirt.StoragePoolState(state) != libvirt.StoragePoolRunning {
			if err := c.l.StoragePoolCreate(pool, 0); err != nil {
				return err
			}
		}
		return c.l.StoragePoolRefresh(pool, 0)
	})
	return pool, err
}

// CreateVolume creates a volume and returns its path on the host.
func (c *Conn) CreateVolume(ctx context.Context, pool libvirt.StoragePool, v Volume) (string, error) {
	b, err := xml.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("render volume %q: %w", v.Name, err)
	}
	var path string
	err = c.call(ctx, fmt.Sprintf("create volume %q in pool %q", v.Name, pool.Name), func() error {
		vol, err := c.l.StorageVolCreateXML(pool, string(b), 0)
		if err != nil {
			return err
		}
		path, err = c.l.StorageVolGetPath(vol)
		return err
	})
	return path, err
}

// VolumePath returns a volume's path, or an error that IsNotFound
// recognises.
func (c *Conn) VolumePath(ctx context.Context, pool libvirt.StoragePool, name string) (string, error) {
	var path string
	err := c.call(ctx, fmt.Sprintf("look up volume %q in pool %q", name, pool.Name), func() error {
		vol, err := c.l.StorageVolLookupByName(pool, name)
		if err != nil {
			return err
		}
		path, err = c.l.StorageVolGetPath(vol)
		return err
	})
	return path, err
}

// Upload streams r (size bytes) into an existing volume.
func (c *Conn) Upload(ctx context.Context, pool libvirt.StoragePool, name string, r io.Reader, size uint64) error {
	return c.call(ctx, fmt.Sprintf("upload volume %q", name), func() error {
		vol, err := c.l.StorageVolLookupByName(pool, name)
		if err != nil {
			return err
		}
		return c.l.StorageVolUpload(vol, r, 0, size, 0)
	})
}

// DeleteVolume removes a volume; one that is already gone is no error.
func (c *Conn) DeleteVolume(ctx context.Context, pool libvirt.StoragePool, name string) error {
	err := c.call(ctx, fmt.Sprintf("delete volume %q from pool %q", name, pool.Name), func() error {
		vol, err := c.l.StorageVolLookupByName(pool, name)
		if err != nil {
			return err
		}
		return c.l.StorageVolDelete(vol, 0)
	})
	if IsNotFound(err) {
		return nil
	}
	return err
}

// Volumes lists the names of a pool's volumes.
func (c *Conn) Volumes(ctx context.Context, pool libvirt.StoragePool) ([]string, error) {
	var names []string
	err := c.call(ctx, fmt.Sprintf("list volumes of pool %q", pool.Name), func() error {
		if err := c.l.StoragePoolRefresh(pool, 0); err != nil {
			return err
		}
		vols, _, err := c.l.StoragePoolListAllVolumes(pool, 1, 0)
		for _, v := range vols {
			names = append(names, v.Name)
		}
		return err
	})
	return names, err
}

// RemovePool stops and forgets a pool; the files in it stay.
func (c *Conn) RemovePool(ctx context.Context, name string) error {
	err := c.call(ctx, fmt.Sprintf("remove pool %q", name), func() error {
		pool, err := c.l.StoragePoolLookupByName(name)
		if err != nil {
			return err
		}
		c.l.StoragePoolDestroy(pool) // a stopped pool is fine
		return c.l.StoragePoolUndefine(pool)
	})
	if IsNotFound(err) {
		return nil
	}
	return err
}
