package harness

import (
	"fmt"
	"sort"

	"github.com/ostal/ostal/internal/virt"
)

// metadataNS is the XML namespace of ostal's domain metadata.
const metadataNS = "https://ostal.invalid/xmlns/test/1"

// ReadyChannel is the virtio-serial port on which the guest says it is
// ready (see provision/base/lib/announce-ready).
const ReadyChannel = "org.ostal.ready"

// domainSpec is everything that differs between test domains.
type domainSpec struct {
	Name       string
	Accel      string // "kvm" or "qemu"
	Firmware   string // "bios" or "uefi"
	MemoryMiB  int
	VCPUs      int
	Pool       string
	RootVolume string
	DataVolume string
	SerialLog  string
	ReadyFile  string
	// Forwards maps guest TCP ports to host ports on 127.0.0.1.
	Forwards map[int]int
	// ProbeNetdev, if set, is the QEMU netdev of the probe wire (see
	// wire.go), the guest's second card.
	ProbeNetdev string
	// Credentials are systemd credentials passed through fw_cfg, e.g.
	// ssh.authorized_keys.root.
	Credentials map[string]string
	// RunID and Owner go into the metadata, so leftovers can be told
	// from a live run's domains.
	RunID string
	Owner int
}

// domainXML builds the test domain (a guest that reboots by itself, e.g.
// after a panic, stops: the harness restarts it only when it means to): the image's overlay and a data
// volume on virtio, the serial console logged to a file, the readiness
// channel, settings as systemd credentials, and user-mode networking
// whose only openings are forwards on 127.0.0.1.
func domainXML(s domainSpec) *virt.Domain {
	d := &virt.Domain{
		Type: s.Accel, XMLNSQEMU: "http://libvirt.org/schemas/domain/qemu/1.0", Name: s.Name,
		Metadata: &virt.Metadata{Inner: []byte(fmt.Sprintf(
			`<ostal:run xmlns:ostal=%q><ostal:id>%s</ostal:id><ostal:pid>%d</ostal:pid></ostal:run>`, metadataNS, s.RunID, s.Owner))},
		Memory:     virt.Memory{Unit: "MiB", Value: s.MemoryMiB},
		VCPU:       s.VCPUs,
		OS:         virt.OS{Type: virt.OSType{Arch: "x86_64", Machine: "pc", Value: "hvm"}, Boot: []virt.Boot{{Dev: "hd"}}},
		Features:   virt.Features{ACPI: &struct{}{}},
		OnPoweroff: "destroy", OnReboot: "destroy", OnCrash: "destroy",
		Devices: virt.Devices{
			Disks: []virt.Disk{
				{Type: "volume", Device: "disk", Driver: virt.DiskDriver{Name: "qemu", Type: "qcow2"},
					Source: virt.DiskSource{Pool: s.Pool, Volume: s.RootVolume}, Target: virt.DiskTarget{Dev: "vda", Bus: "virtio"}},
			},
			Serials: []virt.Serial{{Type: "pty", Target: &virt.SerialTarget{Port: 0},
				Log: &virt.CharLog{File: s.SerialLog, Append: "off"}}},
			Consoles: []virt.Console{{Type: "pty", Target: &virt.ConsoleTarget{Type: "serial", Port: 0}}},
			Channels: []virt.Channel{{Type: "file", Source: &virt.CharSource{Path: s.ReadyFile},
				Target: virt.ChannelTarget{Type: "virtio", Name: ReadyChannel}}},
			RNG:         &virt.RNG{Model: "virtio", Backend: virt.RNGBackend{Model: "random", Path: "/dev/urandom"}},
			MemBalloon:  &virt.MemBalloon{Model: "none"},
			Controllers: []virt.Controller{virt.NoUSB()},
		},
		QEMUArgs: &virt.QEMUArgs{Args: []virt.QEMUArg{
			{Value: "-netdev"}, {Value: userNetdev(s)},
			{Value: "-device"}, {Value: "virtio-net-pci,netdev=n0,addr=0x10"},
		}},
	}
	if s.ProbeNetdev != "" {
		slot := "addr=0x11"
		if s.Firmware == "uefi" {
			slot = "bus=pcie.0,addr=0x11"
		}
		d.QEMUArgs.Args = append(d.QEMUArgs.Args, virt.QEMUArg{Value: "-netdev"}, virt.QEMUArg{Value: s.ProbeNetdev},
			virt.QEMUArg{Value: "-device"}, virt.QEMUArg{Value: "virtio-net-pci,netdev=n1,mac=" + ProbeMAC + "," + slot})
	}
	if s.DataVolume != "" {
		d.Devices.Disks = append(d.Devices.Disks, virt.Disk{Type: "volume", Device: "disk", Driver: virt.DiskDriver{Name: "qemu", Type: "qcow2"},
			Source: virt.DiskSource{Pool: s.Pool, Volume: s.DataVolume}, Target: virt.DiskTarget{Dev: "vdb", Bus: "virtio"},
			Serial: "ostal-data"})
	}
	if s.Firmware == "uefi" {
		d.OS.Firmware = "efi"
		d.OS.Type.Machine = "q35"
		// Left to itself libvirt picks the Secure Boot build with
		// Microsoft's keys, which refuses our unsigned GRUB.
		d.OS.FirmwareFeatures = &virt.FirmwareFeatures{Features: []virt.FirmwareFeature{
			{Enabled: "no", Name: "secure-boot"}, {Enabled: "no", Name: "enrolled-keys"}}}
		// The NIC needs a fixed slot that libvirt's own devices leave free.
		d.QEMUArgs.Args[3].Value = "virtio-net-pci,netdev=n0,bus=pcie.0,addr=0x10"
	}
	if len(s.Credentials) > 0 {
		d.SysInfo = &virt.SysInfo{Type: "fwcfg"}
		for _, name := range sortedKeys(s.Credentials) {
			d.SysInfo.Entries = append(d.SysInfo.Entries, virt.SysInfoEntry{
				Name: "opt/io.systemd.credentials/" + name, Value: s.Credentials[name]})
		}
	}
	return d
}

func userNetdev(s domainSpec) string {
	return virt.UserNetdev("n0", s.Forwards)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
