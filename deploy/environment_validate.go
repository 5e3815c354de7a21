package deploy

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/images"
	"github.com/ostal/ostal/tests/checks"
)

var (
	domainRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	poolRE   = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	volumeRE = regexp.MustCompile(`^[a-z0-9-]+$`)
	hostRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
)

// validate checks every field of a completed environment and returns all
// problems at once, as images.FieldErrors.
func validate(e *Environment) error {
	p := images.NewFieldErrors(e.Path)
	validateURI(p, e.URI)
	switch {
	case e.Domain == "":
		p.Add("domain", "name the libvirt domain (the VM), e.g. utzqanil", "missing")
	case !domainRE.MatchString(e.Domain):
		p.Add("domain", "use letters, digits, _ and -, at most 64 characters", "%q is not a domain name", e.Domain)
	}
	if !poolRE.MatchString(e.Pool) {
		p.Add("pool", "use letters, digits, _ . and -; virsh pool-list shows the host's pools", "%q is not a pool name", e.Pool)
	}
	if e.PoolPath != "" && !filepath.IsAbs(e.PoolPath) {
		p.Add("pool_path", "give an absolute directory on the host, e.g. /var/lib/ostal/pools/local", "%q is not an absolute path", e.PoolPath)
	}
	if e.Accel != "kvm" && e.Accel != "qemu" {
		p.Add("accel", `use "kvm", or "qemu" (software emulation, slow) where the host has no KVM`, "%q is not an accelerator", e.Accel)
	}
	if e.VCPUs < 1 || e.VCPUs > 64 {
		p.Add("vcpus", "give 1 to 64", "%d is out of range", e.VCPUs)
	}
	validateSize(p, "memory", e.Memory, 512<<20, `"4GiB"`)
	validateVolumes(p, e.DataVolumes)
	validateNetwork(p, &e.Network)
	validateGuest(p, e)
	if loc, err := time.LoadLocation(e.Maintenance.Timezone); err != nil {
		p.Add("maintenance.timezone", "use an IANA name such as Europe/Paris", "%q is not a time zone", e.Maintenance.Timezone)
	} else if _, err := ParseWindow(e.Maintenance.Window, loc); err != nil {
		p.Add("maintenance.window", `write e.g. "Sun 02:00-04:00", "Mon,Thu 22:00-23:30" or "daily 03:00-05:00"; leave it out for any time`, "%v", err)
	}
	validateHealth(p, e)
	return p.Err()
}

func validateURI(p *images.FieldErrors, uri string) {
	const hint = "use qemu:///system, qemu+ssh://root@host/system or qemu+tls://host/system"
	u, err := url.Parse(uri)
	switch {
	case uri == "":
		p.Add("uri", hint, "missing")
	case err != nil:
		p.Add("uri", hint, "%q is not a URI", uri)
	case u.Scheme != "qemu" && u.Scheme != "qemu+unix" && u.Scheme != "qemu+ssh" && u.Scheme != "qemu+tls":
		p.Add("uri", hint, "%q: transport %q is not supported", uri, u.Scheme)
	case u.Path == "/session":
		p.Add("uri", `"/session" is not supported since the system daemon owns the pools: use /system`, "%q is a session URI", uri)
	case u.Path != "/system":
		p.Add("uri", hint, "%q does not end in /system", uri)
	case (u.Scheme == "qemu+ssh" || u.Scheme == "qemu+tls") && u.Hostname() == "":
		p.Add("uri", "name the host, e.g. "+u.Scheme+"://root@host.example/system", "%q names no host", uri)
	}
}

// validateSize checks a size such as "4GiB" and its lower bound.
func validateSize(p *images.FieldErrors, field, size string, least uint64, example string) {
	hint := fmt.Sprintf("write a size such as %s (at least %dMiB)", example, least>>20)
	if n, err := parseSize(size); err != nil {
		p.Add(field, hint, "%v", err)
	} else if n < least {
		p.Add(field, hint, "%q is less than %dMiB", size, least>>20)
	}
}

func validateVolumes(p *images.FieldErrors, volumes []DataVolume) {
	seen := map[string]bool{}
	for i, v := range volumes {
		field := fmt.Sprintf("data_volumes[%d]", i)
		switch {
		case !volumeRE.MatchString(v.Name):
			p.Add(field+".name", "use lower-case letters, digits and dashes; the guest sees the name as the disk's serial", "%q is not a volume name", v.Name)
		case seen[v.Name]:
			p.Add(field+".name", "give each volume its own name", "%q is listed twice", v.Name)
		}
		seen[v.Name] = true
		validateSize(p, field+".size", v.Size, 64<<20, `"20GiB"`)
	}
	if !seen[DataVolumeSerial] {
		// Empty or not, the list needs this one.
		p.Add("data_volumes", "add - {name: ostal-data, size: 20GiB}: the image mounts the volume whose serial is ostal-data at /srv/data", "no volume is named %q", DataVolumeSerial)
	}
}

func validateNetwork(p *images.FieldErrors, n *Network) {
	switch n.Mode {
	case "bridge":
		if n.Bridge == "" {
			p.Add("network.bridge", "name the host's bridge, e.g. br0 (ip link show type bridge)", "missing in bridge mode")
		}
		if n.Forwards != nil {
			p.Add("network.forwards", "remove them: in bridge mode the guest has its own address", "forwards are for user mode")
		}
	case "user":
		for _, f := range [][2]string{{"bridge", n.Bridge}, {"address", n.Address}, {"gateway", n.Gateway}} {
			if f[1] != "" {
				p.Add("network."+f[0], "remove it, or set mode: bridge; in user mode QEMU gives the guest its address", "%q is set in user mode", f[1])
			}
		}
		validateForwards(p, n.Forwards)
	default:
		p.Add("network.mode", `use "bridge" (a host bridge) or "user" (QEMU's NAT with forwards, for tests)`, "%q is not a network mode", n.Mode)
	}
	validateAddress(p, "", n.Address, n.Gateway, "192.0.2.10/24")
	validateAddress(p, "6", n.Address6, n.Gateway6, "2001:db8::10/64")
	for i, a := range n.DNS {
		if _, err := netip.ParseAddr(a); err != nil {
			p.Add(fmt.Sprintf("network.dns[%d]", i), "give a resolver's IP address, e.g. 9.9.9.9", "%q is not an IP address", a)
		}
	}
	// QEMU's own prefix, 52:54:00, is locally administered too.
	if mac, err := net.ParseMAC(n.MAC); n.MAC != "" && (err != nil || len(mac) != 6 || mac[0]&1 != 0 || mac[0]&2 == 0) {
		p.Add("network.mac", "use QEMU's prefix, e.g. 52:54:00:12:34:56, or leave it out", "%q is not a locally administered unicast MAC address", n.MAC)
	}
}

// validateAddress checks network.address and gateway (family "") or
// address6 and gateway6 (family "6").
func validateAddress(p *images.FieldErrors, family, addr, gateway, example string) {
	v4 := family == ""
	name := map[bool]string{true: "IPv4", false: "IPv6"}[v4]
	prefix, err := netip.ParsePrefix(addr)
	if addr != "" && (err != nil || prefix.Addr().Is4() != v4) {
		p.Add("network.address"+family, "write the address with its prefix length, e.g. "+example, "%q is not an %s address with prefix", addr, name)
		return
	}
	gw, err := netip.ParseAddr(gateway)
	switch {
	case gateway == "":
	case addr == "":
		p.Add("network.gateway"+family, "remove it (DHCP gives the gateway) or set network.address"+family, "%q is set without an address", gateway)
	case err != nil || gw.Is4() != v4:
		p.Add("network.gateway"+family, "write the router's address, e.g. "+prefix.Masked().Addr().Next().String(), "%q is not an %s address", gateway, name)
	case v4 && !prefix.Contains(gw):
		p.Add("network.gateway", "the gateway must be on the guest's subnet, "+prefix.Masked().String(), "%q is not in %s", gateway, addr)
	}
}

func validateForwards(p *images.FieldErrors, forwards map[int]int) {
	if _, ok := forwards[22]; !ok {
		p.Add("network.forwards", "add 22: 40022 (any free host port): the deployer logs in through it", "no forward of guest port 22")
	}
	hosts := map[int]int{}
	for _, guest := range slices.Sorted(maps.Keys(forwards)) {
		host, field := forwards[guest], fmt.Sprintf("network.forwards[%d]", guest)
		switch {
		case guest < 1 || guest > 65535:
			p.Add(field, "ports are 1 to 65535", "guest port %d is out of range", guest)
		case host < 1 || host > 65535:
			p.Add(field, "ports are 1 to 65535", "host port %d is out of range", host)
		case hosts[host] != 0:
			p.Add(field, "give each forward its own host port", "host port %d is also forwarded from guest port %d", host, hosts[host])
		}
		hosts[host] = guest
	}
}

func validateGuest(p *images.FieldErrors, e *Environment) {
	for i, key := range e.Guest.AdminKeys {
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key)); err != nil {
			p.Add(fmt.Sprintf("guest.admin_keys[%d]", i), "paste one line of a .pub file: ssh-ed25519 AAAA... comment", "%.40q is not an OpenSSH public key", key)
		}
	}
	if u, err := url.Parse(e.Guest.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
		p.Add("guest.acme_directory", "use "+LetsEncrypt+", or your ACME server's directory URL", "%q is not an https URL", e.Guest.ACMEDirectory)
	}
	validateFile(p, e, "guest.acme_ca", e.Guest.ACMECA, "give a PEM file of the ACME server's CA, relative to the environment file's folder", func(data []byte) error {
		for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
			if _, err := x509.ParseCertificate(block.Bytes); block.Type == "CERTIFICATE" && err == nil {
				return nil
			}
		}
		return errors.New("holds no PEM certificate")
	})
}

func validateHealth(p *images.FieldErrors, e *Environment) {
	h := e.Health
	switch _, err := netip.ParseAddr(h.Address); {
	case h.Address == "":
		p.Add("health.address", "with DHCP (no network.address), say where the deployer reaches the guest: an IP address or host name", "missing")
	case err != nil && !hostRE.MatchString(h.Address):
		p.Add("health.address", "give an IP address or a host name", "%q is not an address", h.Address)
	}
	if d, err := time.ParseDuration(h.Timeout); err != nil || d < 30*time.Second || d > 2*time.Hour {
		p.Add("health.timeout", `write a duration between "30s" and "2h", e.g. "10m"`, "%q is not a duration between 30s and 2h", h.Timeout)
	}
	for i, c := range h.Checks {
		if _, err := path.Match(c, ""); c == "" || err != nil {
			p.Add(fmt.Sprintf("health.checks[%d]", i), `name a check or a glob of checks, e.g. "ssh" or "tls.*"`, "%q is not a check glob", c)
		}
	}
	validateHealthChecks(p.Add, checks.Default, h.Checks)
	validateFile(p, e, "health.ssh_key", h.SSHKey, "give the deployer's private key file, e.g. ~/.ssh/ostal_deploy (ssh-keygen -t ed25519 -N '' -f ~/.ssh/ostal_deploy)", func(data []byte) error {
		_, err := ssh.ParsePrivateKey(data)
		var pass *ssh.PassphraseMissingError
		if errors.As(err, &pass) {
			return errors.New("is protected by a passphrase, and the deployer runs unattended")
		} else if err != nil {
			return errors.New("is not an OpenSSH private key")
		}
		return nil
	})
}

// validateFile checks the file called name (relative to the environment
// file's folder) exists and that parse accepts its content.
func validateFile(p *images.FieldErrors, e *Environment, field, name, hint string, parse func([]byte) error) {
	if name == "" {
		return
	}
	data, err := os.ReadFile(e.resolve(name))
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		err = pe.Err // the problem quotes the path as written, not resolved
	}
	if err != nil {
		p.Add(field, hint, "%q: %v", name, err)
	} else if err := parse(data); err != nil {
		p.Add(field, hint, "%q %v", name, err)
	}
}
