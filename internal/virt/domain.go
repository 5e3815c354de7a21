package virt

import (
	"encoding/xml"
	"fmt"
)

// Domain is the part of libvirt's domain XML that ostal writes. Built as
// typed values and marshalled, never assembled from strings.
type Domain struct {
	XMLName    xml.Name  `xml:"domain"`
	Type       string    `xml:"type,attr"` // "kvm" or "qemu" (TCG)
	XMLNSQEMU  string    `xml:"xmlns:qemu,attr,omitempty"`
	Name       string    `xml:"name"`
	UUID       string    `xml:"uuid,omitempty"`
	Metadata   *Metadata `xml:"metadata,omitempty"`
	Memory     Memory    `xml:"memory"`
	VCPU       int       `xml:"vcpu"`
	SysInfo    *SysInfo  `xml:"sysinfo,omitempty"`
	OS         OS        `xml:"os"`
	Features   Features  `xml:"features"`
	CPU        *CPU      `xml:"cpu,omitempty"`
	OnPoweroff string    `xml:"on_poweroff"`
	OnReboot   string    `xml:"on_reboot"`
	OnCrash    string    `xml:"on_crash"`
	Devices    Devices   `xml:"devices"`
	QEMUArgs   *QEMUArgs `xml:"qemu:commandline,omitempty"`
}

// Metadata holds ostal's own element, in its own namespace, so any admin
// sees what ostal recorded with `virsh dumpxml`.
type Metadata struct {
	Inner []byte `xml:",innerxml"`
}

type Memory struct {
	Unit  string `xml:"unit,attr"`
	Value int    `xml:",chardata"`
}

// SysInfo of type fwcfg passes files to the guest's firmware config;
// systemd reads opt/io.systemd.credentials/* as system credentials.
type SysInfo struct {
	Type    string         `xml:"type,attr"`
	Entries []SysInfoEntry `xml:"entry"`
}

type SysInfoEntry struct {
	Name  string `xml:"name,attr"`
	File  string `xml:"file,attr,omitempty"`
	Value string `xml:",chardata"`
}

type OS struct {
	Firmware string `xml:"firmware,attr,omitempty"` // "efi" for OVMF
	Type     OSType `xml:"type"`
	// FirmwareFeatures steer libvirt's choice of firmware file.
	FirmwareFeatures *FirmwareFeatures `xml:"firmware,omitempty"`
	Loader           *Loader           `xml:"loader,omitempty"`
	NVRAM            *NVRAM            `xml:"nvram,omitempty"`
	Boot             []Boot            `xml:"boot"`
	SMBIOS           *SMBIOS           `xml:"smbios,omitempty"`
	BIOS             *BIOSLog          `xml:"bios,omitempty"`
}

type OSType struct {
	Arch    string `xml:"arch,attr"`
	Machine string `xml:"machine,attr"`
	Value   string `xml:",chardata"`
}

type FirmwareFeatures struct {
	Features []FirmwareFeature `xml:"feature"`
}

type FirmwareFeature struct {
	Enabled string `xml:"enabled,attr"`
	Name    string `xml:"name,attr"`
}

type Loader struct {
	ReadOnly string `xml:"readonly,attr,omitempty"`
	Type     string `xml:"type,attr,omitempty"`
	Path     string `xml:",chardata"`
}

type NVRAM struct {
	Template string `xml:"template,attr,omitempty"`
	Path     string `xml:",chardata"`
}

type Boot struct {
	Dev string `xml:"dev,attr"`
}

type SMBIOS struct {
	Mode string `xml:"mode,attr"`
}

type BIOSLog struct {
	UseSerial string `xml:"useserial,attr,omitempty"`
}

type Features struct {
	ACPI *struct{} `xml:"acpi"`
	APIC *struct{} `xml:"apic"`
}

type CPU struct {
	Mode string `xml:"mode,attr"`
}

type Devices struct {
	Emulator    string       `xml:"emulator,omitempty"`
	Disks       []Disk       `xml:"disk"`
	Controllers []Controller `xml:"controller"`
	Interfaces  []Interface  `xml:"interface"`
	Serials     []Serial     `xml:"serial"`
	Consoles    []Console    `xml:"console"`
	Channels    []Channel    `xml:"channel"`
	RNG         *RNG         `xml:"rng,omitempty"`
	MemBalloon  *MemBalloon  `xml:"memballoon,omitempty"`
}

type Disk struct {
	Type   string     `xml:"type,attr"` // "volume" or "file"
	Device string     `xml:"device,attr"`
	Driver DiskDriver `xml:"driver"`
	Source DiskSource `xml:"source"`
	Target DiskTarget `xml:"target"`
	Serial string     `xml:"serial,omitempty"`
}

type DiskDriver struct {
	Name string `xml:"name,attr"`
	Type string `xml:"type,attr"`
}

type DiskSource struct {
	Pool   string `xml:"pool,attr,omitempty"`
	Volume string `xml:"volume,attr,omitempty"`
	File   string `xml:"file,attr,omitempty"`
}

type DiskTarget struct {
	Dev string `xml:"dev,attr"`
	Bus string `xml:"bus,attr"`
}

type Controller struct {
	Type  string `xml:"type,attr"`
	Index int    `xml:"index,attr"`
	Model string `xml:"model,attr,omitempty"`
}

// NoUSB asks libvirt for no USB controller, where it would add one by
// default: the machines have no USB device, and an empty bus still costs
// each boot its firmware's scan, the kernel's synchronous hand-off quirk
// (a quarter of a second under emulation) and two modules.
func NoUSB() Controller { return Controller{Type: "usb", Model: "none"} }

type Interface struct {
	Type         string        `xml:"type,attr"` // "user" or "bridge"
	MAC          *MAC          `xml:"mac,omitempty"`
	Source       *IfaceSource  `xml:"source,omitempty"`
	Model        *Model        `xml:"model,omitempty"`
	Backend      *Backend      `xml:"backend,omitempty"`
	PortForwards []PortForward `xml:"portForward"`
}

type MAC struct {
	Address string `xml:"address,attr"`
}

type IfaceSource struct {
	Bridge string `xml:"bridge,attr,omitempty"`
}

type Model struct {
	Type string `xml:"type,attr"`
}

type Backend struct {
	Type string `xml:"type,attr"`
}

// PortForward forwards host ports (on Address) to the guest.
type PortForward struct {
	Proto   string      `xml:"proto,attr"`
	Address string      `xml:"address,attr,omitempty"`
	Ranges  []PortRange `xml:"range"`
}

type PortRange struct {
	Start int `xml:"start,attr"`
	To    int `xml:"to,attr,omitempty"`
}

type Serial struct {
	Type   string        `xml:"type,attr"` // "file" or "pty"
	Source *CharSource   `xml:"source,omitempty"`
	Target *SerialTarget `xml:"target,omitempty"`
	Log    *CharLog      `xml:"log,omitempty"`
}

type CharSource struct {
	Path   string `xml:"path,attr,omitempty"`
	Mode   string `xml:"mode,attr,omitempty"`
	Append string `xml:"append,attr,omitempty"`
}

type SerialTarget struct {
	Port int `xml:"port,attr"`
}

type CharLog struct {
	File   string `xml:"file,attr"`
	Append string `xml:"append,attr,omitempty"`
}

type Console struct {
	Type   string         `xml:"type,attr"`
	Target *ConsoleTarget `xml:"target,omitempty"`
}

type ConsoleTarget struct {
	Type string `xml:"type,attr"`
	Port int    `xml:"port,attr"`
}

// Channel is a virtio-serial port: the guest writes to
// /dev/virtio-ports/<Target.Name>.
type Channel struct {
	Type   string        `xml:"type,attr"` // "file" or "unix"
	Source *CharSource   `xml:"source,omitempty"`
	Target ChannelTarget `xml:"target"`
}

type ChannelTarget struct {
	Type string `xml:"type,attr"`
	Name string `xml:"name,attr"`
}

type RNG struct {
	Model   string     `xml:"model,attr"`
	Backend RNGBackend `xml:"backend"`
}

type RNGBackend struct {
	Model string `xml:"model,attr"`
	Path  string `xml:",chardata"`
}

type MemBalloon struct {
	Model string `xml:"model,attr"`
}

// QEMUArgs passes arguments straight to QEMU (qemu:commandline).
type QEMUArgs struct {
	Args []QEMUArg `xml:"qemu:arg"`
}

type QEMUArg struct {
	Value string `xml:"value,attr"`
}

// XML renders the domain.
func (d *Domain) XML() (string, error) {
	b, err := xml.MarshalIndent(d, "", "  ")
	if err != nil {
		return "", fmt.Errorf("render domain %q: %w", d.Name, err)
	}
	return string(b), nil
}
