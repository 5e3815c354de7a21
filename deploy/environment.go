package deploy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ostal/ostal/images"
)

const (
	// EnvironmentsDir is where a bare environment name is looked up,
	// relative to the current directory (the repository's root).
	EnvironmentsDir = "deploy/environments"
	// LetsEncrypt is the default ACME directory, Let's Encrypt production.
	LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"
	// DataVolumeSerial names the data volume the image mounts at /srv/data.
	DataVolumeSerial = "ostal-data"
)

// Environment is one place an image runs (deploy/environments/NAME.yaml).
// Defaults are applied in one place, applyDefaults.
type Environment struct {
	Path string `mapstructure:"-"` // the file it was read from
	Name string `mapstructure:"-"` // the file's name without .yaml
	// URI is libvirt's: qemu:///system, qemu+ssh://user@host[:port]/system
	// (with ?keyfile=..&known_hosts=..), or qemu+tls://host/system.
	URI string `mapstructure:"uri"`
	// Pool is the storage pool that holds the images and data volumes.
	Pool string `mapstructure:"pool"`
	// PoolPath, if set, is where a missing directory pool is created.
	PoolPath string `mapstructure:"pool_path"`
	// Domain is the libvirt domain (the VM) name, e.g. utzqanil.
	Domain string `mapstructure:"domain"`
	// Image is the default image for push and swap, relative to the
	// current directory: build/<domain>.qcow2 unless set.
	Image string `mapstructure:"image"`
	// Accel is "kvm", or "qemu" (software emulation) for tests.
	Accel  string `mapstructure:"accel"`
	VCPUs  int    `mapstructure:"vcpus"`
	Memory string `mapstructure:"memory"` // e.g. "4GiB"
	// DataVolumes outlive the images; one must be ostal-data.
	DataVolumes []DataVolume `mapstructure:"data_volumes"`
	Network     Network      `mapstructure:"network"`
	Guest       Guest        `mapstructure:"guest"`
	Maintenance Maintenance  `mapstructure:"maintenance"`
	Health      Health       `mapstructure:"health"`
}

// DataVolume is a disk kept across image swaps; the guest finds it by its
// serial, which is Name.
type DataVolume struct {
	Name string `mapstructure:"name"`
	Size string `mapstructure:"size"` // e.g. "20GiB"
}

// Network is how the guest is connected.
type Network struct {
	// Mode is "bridge" (a host bridge, public addresses) or "user" (QEMU's
	// NAT with port forwards, for tests on a laptop).
	Mode   string `mapstructure:"mode"`
	Bridge string `mapstructure:"bridge"` // bridge mode: e.g. br0
	MAC    string `mapstructure:"mac"`    // optional, e.g. 52:54:00:12:34:56
	// Address is the guest's static IPv4 with its prefix, 192.0.2.10/24;
	// empty means DHCP.
	Address  string   `mapstructure:"address"`
	Gateway  string   `mapstructure:"gateway"`
	Address6 string   `mapstructure:"address6"` // e.g. 2001:db8::10/64
	Gateway6 string   `mapstructure:"gateway6"`
	DNS      []string `mapstructure:"dns"` // resolvers the guest asks
	// Forwards maps guest TCP ports to host ports on 127.0.0.1, in user
	// mode; 22 is required, the deployer's way in.
	Forwards map[int]int `mapstructure:"forwards"`
}

// Guest is what the deployer tells the guest at first boot.
type Guest struct {
	// AdminKeys are OpenSSH public keys for root logins.
	AdminKeys []string `mapstructure:"admin_keys"`
	// ACMEDirectory is where certificates come from; Let's Encrypt by
	// default, a local Pebble in tests.
	ACMEDirectory string `mapstructure:"acme_directory"`
	// ACMECA is a PEM file of the ACME server's CA, for test servers.
	ACMECA string `mapstructure:"acme_ca"`
}

// Maintenance is when the deployer may restart the guest.
type Maintenance struct {
	// Window is e.g. "Sun 02:00-04:00" or "daily 02:00-04:00"; empty
	// means any time.
	Window   string `mapstructure:"window"`
	Timezone string `mapstructure:"timezone"` // IANA name
}

// Health is how the deployer decides a new image works.
type Health struct {
	// Address is where the deployer reaches the guest: network.address's
	// IP in bridge mode, 127.0.0.1 in user mode, unless set.
	Address string `mapstructure:"address"`
	// SSHKey is the deployer's private key file ("~/" expands); its
	// public half is also authorized in the guest.
	SSHKey  string `mapstructure:"ssh_key"`
	Timeout string `mapstructure:"timeout"` // Go duration, e.g. "10m"
	// Checks are globs of the checks run once the guest reports healthy.
	Checks []string `mapstructure:"checks"`
}

// LoadEnvironment reads, completes and validates an environment: a bare
// name (tetaneutral) is deploy/environments/NAME.yaml, anything else a
// path. All problems of the file come at once, as images.FieldErrors.
func LoadEnvironment(nameOrPath string) (*Environment, error) {
	path := nameOrPath
	bare := !strings.ContainsRune(nameOrPath, '/') && filepath.Ext(nameOrPath) == ""
	if bare {
		path = filepath.Join(EnvironmentsDir, nameOrPath+".yaml")
	}
	if _, err := os.Stat(path); err != nil {
		if bare && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("environment %s: %w; %s", nameOrPath, err, knownEnvironments())
		}
		return nil, fmt.Errorf("environment %s: %w", nameOrPath, err)
	}
	env := &Environment{}
	if err := images.DecodeYAML(path, env); err != nil {
		return nil, err
	}
	env.Path = path
	env.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	applyDefaults(env)
	if err := validate(env); err != nil {
		return nil, err
	}
	env.resolvePaths()
	return env, nil
}

// knownEnvironments says which names LoadEnvironment would find.
func knownEnvironments() string {
	files, _ := filepath.Glob(filepath.Join(EnvironmentsDir, "*.yaml"))
	if len(files) == 0 {
		return "there is no " + EnvironmentsDir + " here: run ostal from the repository's root, or pass a file's path"
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".yaml")
	}
	return "environments are " + strings.Join(names, ", ")
}

// applyDefaults fills every field the file left empty.
func applyDefaults(e *Environment) {
	setDefault(&e.Pool, "default")
	setDefault(&e.Image, filepath.Join("build", e.Domain+".qcow2"))
	setDefault(&e.Accel, "kvm")
	if e.VCPUs == 0 {
		e.VCPUs = 2
	}
	setDefault(&e.Memory, "2GiB")
	setDefault(&e.Network.Mode, "bridge")
	setDefault(&e.Guest.ACMEDirectory, LetsEncrypt)
	setDefault(&e.Maintenance.Timezone, "Europe/Paris")
	setDefault(&e.Health.Timeout, "10m")
	if e.Health.Checks == nil {
		e.Health.Checks = []string{"ssh"}
	}
	if e.Health.Address == "" {
		switch {
		case e.Network.Mode == "user":
			e.Health.Address = "127.0.0.1"
		case e.Network.Address != "": // if bad, validate reports it
			e.Health.Address, _, _ = strings.Cut(e.Network.Address, "/")
		}
	}
}

func setDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

// resolvePaths makes acme_ca and ssh_key absolute, for callers anywhere.
func (e *Environment) resolvePaths() {
	e.Guest.ACMECA = e.resolve(e.Guest.ACMECA)
	e.Health.SSHKey = e.resolve(e.Health.SSHKey)
}

// resolve expands "~/" and makes p relative to the file's directory.
func (e *Environment) resolve(p string) string {
	if p == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, rest)
		}
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(e.Path), p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// MemoryMiB is Memory in MiB (0 if it does not parse: validate rejects it).
func (e *Environment) MemoryMiB() int {
	n, _ := parseSize(e.Memory)
	return int(n >> 20)
}

// VolumeName is the pool volume of dv: <domain>-<name>.
func (e *Environment) VolumeName(dv DataVolume) string { return e.Domain + "-" + dv.Name }

// SizeBytes is Size in bytes (0 if it does not parse).
func (dv DataVolume) SizeBytes() uint64 {
	n, _ := parseSize(dv.Size)
	return n
}

// TimeoutDuration is Timeout parsed (0 if it does not parse).
func (h Health) TimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(h.Timeout)
	return d
}

var sizeRE = regexp.MustCompile(`^(\d+)\s*(MiB|GiB|TiB|M|G|T)$`)

// parseSize reads "512MiB", "4GiB" or "1TiB". Not images.DiskSizeBytes:
// it bounds image disks (at least 512MiB, no TiB).
func parseSize(s string) (uint64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	shift := map[byte]uint{'M': 20, 'G': 30, 'T': 40}[m[2][0]]
	if err != nil || n > (1<<(64-shift))-1 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << shift, nil
}
