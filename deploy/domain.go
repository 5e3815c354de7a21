package deploy

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ostal/ostal/internal/virt"
)

// disks are the host paths of a domain's volumes: the OS overlay first,
// then the data volumes in the environment's order.
type disks struct {
	Overlay string
	Data    []string
}

// domainXML builds the deployed domain from the environment: typed
// values, never templates. Disks are files (not pool volumes) because
// libvirt snapshots only those; the data volumes carry their name as
// serial, which is how the image finds them.
func domainXML(env *Environment, uuid string, dk disks, credentials map[string]string, state string) *virt.Domain {
	d := &virt.Domain{
		Type: env.Accel, Name: env.Domain, UUID: uuid,
		Memory:     virt.Memory{Unit: "MiB", Value: env.MemoryMiB()},
		VCPU:       env.VCPUs,
		OS:         virt.OS{Type: virt.OSType{Arch: "x86_64", Machine: "pc", Value: "hvm"}, Boot: []virt.Boot{{Dev: "hd"}}},
		Features:   virt.Features{ACPI: &struct{}{}},
		OnPoweroff: "destroy", OnReboot: "restart", OnCrash: "destroy",
		Devices: virt.Devices{
			Disks: []virt.Disk{{Type: "file", Device: "disk", Driver: virt.DiskDriver{Name: "qemu", Type: "qcow2"},
				Source: virt.DiskSource{File: dk.Overlay}, Target: virt.DiskTarget{Dev: "vda", Bus: "virtio"}}},
			Serials: []virt.Serial{{Type: "pty", Target: &virt.SerialTarget{Port: 0},
				Log: &virt.CharLog{File: "/var/log/libvirt/qemu/" + env.Domain + "-serial.log", Append: "on"}}},
			Consoles:    []virt.Console{{Type: "pty", Target: &virt.ConsoleTarget{Type: "serial", Port: 0}}},
			RNG:         &virt.RNG{Model: "virtio", Backend: virt.RNGBackend{Model: "random", Path: "/dev/urandom"}},
			MemBalloon:  &virt.MemBalloon{Model: "none"},
			Controllers: []virt.Controller{virt.NoUSB()},
		},
	}
	if state != "" {
		d.Metadata = &virt.Metadata{Inner: []byte(state)}
	}
	for i, dv := range env.DataVolumes {
		d.Devices.Disks = append(d.Devices.Disks, virt.Disk{Type: "file", Device: "disk", Driver: virt.DiskDriver{Name: "qemu", Type: "qcow2"},
			Source: virt.DiskSource{File: dk.Data[i]}, Target: virt.DiskTarget{Dev: fmt.Sprintf("vd%c", 'b'+i), Bus: "virtio"}, Serial: dv.Name})
	}
	switch env.Network.Mode {
	case "bridge":
		iface := virt.Interface{Type: "bridge", Source: &virt.IfaceSource{Bridge: env.Network.Bridge}, Model: &virt.Model{Type: "virtio"}}
		if env.Network.MAC != "" {
			iface.MAC = &virt.MAC{Address: env.Network.MAC}
		}
		d.Devices.Interfaces = []virt.Interface{iface}
	case "user":
		d.XMLNSQEMU = "http://libvirt.org/schemas/domain/qemu/1.0"
		d.QEMUArgs = &virt.QEMUArgs{Args: []virt.QEMUArg{
			{Value: "-netdev"}, {Value: virt.UserNetdev("n0", env.Network.Forwards)},
			{Value: "-device"}, {Value: "virtio-net-pci,netdev=n0,addr=0x10"},
		}}
	}
	if len(credentials) > 0 {
		d.SysInfo = &virt.SysInfo{Type: "fwcfg"}
		names := make([]string, 0, len(credentials))
		for n := range credentials {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			d.SysInfo.Entries = append(d.SysInfo.Entries, virt.SysInfoEntry{Name: "opt/io.systemd.credentials/" + n, Value: credentials[n]})
		}
	}
	return d
}

// guestCredentials are the environment's settings for the guest, as
// systemd credentials: one image serves every environment.
func guestCredentials(env *Environment, deployerPub string) (map[string]string, error) {
	keys := append([]string(nil), env.Guest.AdminKeys...)
	if deployerPub != "" {
		keys = append(keys, strings.TrimSpace(deployerPub))
	}
	c := map[string]string{
		"ssh.authorized_keys.root": strings.Join(keys, "\n") + "\n",
		"ostal.acme-directory":     env.Guest.ACMEDirectory,
	}
	if env.Guest.ACMECA != "" {
		b, err := os.ReadFile(env.Guest.ACMECA)
		if err != nil {
			return nil, fmt.Errorf("%s: guest.acme_ca: %w", env.Path, err)
		}
		c["ostal.acme-ca"] = string(b)
	}
	if n := staticNetwork(env.Network); n != "" {
		// systemd-network-generator installs network.network.* credentials
		// as .network files; a lower number wins over the image's DHCP.
		c["network.network.10-ostal-static"] = n
	}
	return c, nil
}

// staticNetwork is a systemd-networkd unit for a bridge's static
// addresses, or "" for DHCP.
func staticNetwork(n Network) string {
	if n.Mode != "bridge" || (n.Address == "" && n.Address6 == "") {
		return ""
	}
	var b strings.Builder
	b.WriteString("[Match]\nType=ether\nKind=!*\n\n[Network]\n")
	if n.Address == "" {
		b.WriteString("DHCP=ipv4\n") // only IPv6 is static
	}
	for _, kv := range [][2]string{{"Address", n.Address}, {"Gateway", n.Gateway}, {"Address", n.Address6}, {"Gateway", n.Gateway6}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
		}
	}
	for _, dns := range n.DNS {
		fmt.Fprintf(&b, "DNS=%s\n", dns)
	}
	return b.String()
}
