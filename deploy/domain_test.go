package deploy

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testDeployerPub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeployerKeyForTestsOnlyxxxxxxxxxxxxxxxxxx deployer@host"

// renderedDomain is the part of the domain XML the tests read back.
type renderedDomain struct {
	Type     string `xml:"type,attr"`
	Name     string `xml:"name"`
	UUID     string `xml:"uuid"`
	Metadata struct {
		Inner string `xml:",innerxml"`
	} `xml:"metadata"`
	Memory struct {
		Unit  string `xml:"unit,attr"`
		Value int    `xml:",chardata"`
	} `xml:"memory"`
	VCPU    int `xml:"vcpu"`
	SysInfo struct {
		Type    string `xml:"type,attr"`
		Entries []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:",chardata"`
		} `xml:"entry"`
	} `xml:"sysinfo"`
	OnPoweroff string `xml:"on_poweroff"`
	OnReboot   string `xml:"on_reboot"`
	OnCrash    string `xml:"on_crash"`
	Disks      []struct {
		Type   string `xml:"type,attr"`
		Driver struct {
			Type string `xml:"type,attr"`
		} `xml:"driver"`
		Source struct {
			File string `xml:"file,attr"`
		} `xml:"source"`
		Target struct {
			Dev string `xml:"dev,attr"`
			Bus string `xml:"bus,attr"`
		} `xml:"target"`
		Serial string `xml:"serial"`
	} `xml:"devices>disk"`
	Interfaces []struct {
		Type   string `xml:"type,attr"`
		Source struct {
			Bridge string `xml:"bridge,attr"`
		} `xml:"source"`
		MAC struct {
			Address string `xml:"address,attr"`
		} `xml:"mac"`
		Model struct {
			Type string `xml:"type,attr"`
		} `xml:"model"`
	} `xml:"devices>interface"`
	QEMUArgs []struct {
		Value string `xml:"value,attr"`
	} `xml:"http://libvirt.org/schemas/domain/qemu/1.0 commandline>arg"`
}

func renderTestDomain(t *testing.T, env *Environment, dk disks, creds map[string]string, state string) (string, renderedDomain) {
	t.Helper()
	s, err := domainXML(env, "0b7c2a64-6f7e-4a57-9a53-3f4f0c1d2e3f", dk, creds, state).XML()
	require.NoError(t, err)
	var d renderedDomain
	require.NoError(t, xml.Unmarshal([]byte(s), &d), s)
	return s, d
}

func testBridgeEnv() *Environment {
	return &Environment{
		Path: "/etc/ostal/prod.yaml", Name: "prod", Domain: "utzqanil", Accel: "kvm", VCPUs: 4, Memory: "4GiB",
		DataVolumes: []DataVolume{{Name: "ostal-data", Size: "50GiB"}, {Name: "backups", Size: "10GiB"}},
		Network: Network{Mode: "bridge", Bridge: "br0", MAC: "52:54:00:12:34:56",
			Address: "192.0.2.10/24", Gateway: "192.0.2.1"},
		Guest: Guest{ACMEDirectory: LetsEncrypt},
	}
}

func testUserEnv() *Environment {
	return &Environment{
		Path: "/tmp/local.yaml", Name: "local", Domain: "ostal-local", Accel: "qemu", VCPUs: 2, Memory: "2GiB",
		DataVolumes: []DataVolume{{Name: "ostal-data", Size: "2GiB"}},
		Network:     Network{Mode: "user", Forwards: map[int]int{443: 40443, 22: 40022, 80: 40080}},
		Guest:       Guest{ACMEDirectory: LetsEncrypt},
	}
}

func TestDomainXMLBridge(t *testing.T) {
	dk := disks{Overlay: "/pool/utzqanil-root-0123456789ab.qcow2", Data: []string{"/pool/utzqanil-ostal-data", "/pool/utzqanil-backups"}}
	state := `<ostal:state xmlns:ostal="https://ostal.example/state/1"><current digest="abc"></current></ostal:state>`
	creds := map[string]string{"ssh.authorized_keys.root": "k1\n", "ostal.acme-directory": LetsEncrypt, "ostal.acme-ca": "PEM<&>"}
	s, d := renderTestDomain(t, testBridgeEnv(), dk, creds, state)

	assert.Equal(t, "kvm", d.Type)
	assert.Equal(t, "utzqanil", d.Name)
	assert.Equal(t, "0b7c2a64-6f7e-4a57-9a53-3f4f0c1d2e3f", d.UUID)
	assert.Equal(t, "MiB", d.Memory.Unit)
	assert.Equal(t, 4096, d.Memory.Value)
	assert.Equal(t, 4, d.VCPU)
	assert.Equal(t, "destroy", d.OnPoweroff)
	assert.Equal(t, "restart", d.OnReboot, "a reboot inside the guest must not stop the VM")
	assert.Equal(t, "destroy", d.OnCrash)
	assert.Equal(t, state, d.Metadata.Inner, "the state is included verbatim")

	assert.Contains(t, s, `<controller type="usb" index="0" model="none"></controller>`, "no USB bus: nothing to scan at boot")
	require.Len(t, d.Disks, 3)
	for _, want := range []struct{ file, dev, serial string }{
		{dk.Overlay, "vda", ""},
		{dk.Data[0], "vdb", "ostal-data"},
		{dk.Data[1], "vdc", "backups"},
	} {
		var found bool
		for _, disk := range d.Disks {
			if disk.Target.Dev != want.dev {
				continue
			}
			found = true
			assert.Equal(t, "file", disk.Type, want.dev)
			assert.Equal(t, "qcow2", disk.Driver.Type, want.dev)
			assert.Equal(t, "virtio", disk.Target.Bus, want.dev)
			assert.Equal(t, want.file, disk.Source.File, want.dev)
			assert.Equal(t, want.serial, disk.Serial, want.dev)
		}
		assert.True(t, found, "no disk %s in\n%s", want.dev, s)
	}
	assert.Equal(t, "vda", d.Disks[0].Target.Dev, "the OS overlay is the first disk")

	require.Len(t, d.Interfaces, 1)
	assert.Equal(t, "bridge", d.Interfaces[0].Type)
	assert.Equal(t, "br0", d.Interfaces[0].Source.Bridge)
	assert.Equal(t, "52:54:00:12:34:56", d.Interfaces[0].MAC.Address)
	assert.Equal(t, "virtio", d.Interfaces[0].Model.Type)
	assert.Empty(t, d.QEMUArgs, "bridge mode passes nothing to QEMU")
	assert.NotContains(t, s, "xmlns:qemu")

	assert.Equal(t, "fwcfg", d.SysInfo.Type)
	var names []string
	for _, e := range d.SysInfo.Entries {
		names = append(names, e.Name)
		if e.Name == "opt/io.systemd.credentials/ostal.acme-ca" {
			assert.Equal(t, "PEM<&>", e.Value, "credential values are escaped, not spliced")
		}
	}
	assert.Equal(t, []string{
		"opt/io.systemd.credentials/ostal.acme-ca",
		"opt/io.systemd.credentials/ostal.acme-directory",
		"opt/io.systemd.credentials/ssh.authorized_keys.root",
	}, names, "credentials come in sorted order, so the XML is stable")
}

func TestDomainXMLBridgeWithoutMACOrCredentials(t *testing.T) {
	env := testBridgeEnv()
	env.Network.MAC = ""
	env.DataVolumes = env.DataVolumes[:1]
	s, d := renderTestDomain(t, env, disks{Overlay: "/o.qcow2", Data: []string{"/d.qcow2"}}, nil, "")
	require.Len(t, d.Interfaces, 1)
	assert.Empty(t, d.Interfaces[0].MAC.Address, "libvirt picks the MAC")
	assert.NotContains(t, s, "<mac")
	assert.NotContains(t, s, "<sysinfo")
	assert.NotContains(t, s, "<metadata")
	assert.Len(t, d.Disks, 2)
}

func TestDomainXMLUserMode(t *testing.T) {
	env := testUserEnv()
	s, d := renderTestDomain(t, env, disks{Overlay: "/pool/o.qcow2", Data: []string{"/pool/data.qcow2"}},
		map[string]string{"z": "1", "a": "2", "m": "3"}, "")

	assert.Equal(t, "qemu", d.Type)
	assert.Equal(t, 2048, d.Memory.Value)
	assert.Contains(t, s, `xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0"`)
	assert.Empty(t, d.Interfaces, "user mode has no libvirt interface, only QEMU's netdev")
	require.Len(t, d.Disks, 2)
	assert.Equal(t, "vdb", d.Disks[1].Target.Dev)
	assert.Equal(t, "ostal-data", d.Disks[1].Serial)

	var args []string
	for _, a := range d.QEMUArgs {
		args = append(args, a.Value)
	}
	assert.Equal(t, []string{
		"-netdev",
		"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40080-:80,hostfwd=tcp:127.0.0.1:40443-:443",
		"-device", "virtio-net-pci,netdev=n0,addr=0x10",
	}, args)

	var names []string
	for _, e := range d.SysInfo.Entries {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"opt/io.systemd.credentials/a", "opt/io.systemd.credentials/m", "opt/io.systemd.credentials/z"}, names)
}

func TestStaticNetwork(t *testing.T) {
	for _, tc := range []struct {
		name string
		net  Network
		want string
	}{
		{"bridge with DHCP", Network{Mode: "bridge", Bridge: "br0"}, ""},
		{"user mode", Network{Mode: "user", Forwards: map[int]int{22: 40022}}, ""},
		{"user mode ignores addresses", Network{Mode: "user", Address: "192.0.2.10/24"}, ""},
		{"IPv4 only", Network{Mode: "bridge", Bridge: "br0", Address: "192.0.2.10/24", Gateway: "192.0.2.1"},
			"[Match]\nType=ether\nKind=!*\n\n[Network]\nAddress=192.0.2.10/24\nGateway=192.0.2.1\n"},
		{"dual stack with DNS", Network{Mode: "bridge", Bridge: "br0",
			Address: "192.0.2.10/24", Gateway: "192.0.2.1", Address6: "2001:db8::10/64", Gateway6: "2001:db8::1",
			DNS: []string{"9.9.9.9", "2620:fe::fe"}},
			"[Match]\nType=ether\nKind=!*\n\n[Network]\n" +
				"Address=192.0.2.10/24\nGateway=192.0.2.1\nAddress=2001:db8::10/64\nGateway=2001:db8::1\n" +
				"DNS=9.9.9.9\nDNS=2620:fe::fe\n"},
		{"IPv6 only is static, IPv4 by DHCP", Network{Mode: "bridge", Bridge: "br0", Address6: "2001:db8::10/64", Gateway6: "2001:db8::1"},
			"[Match]\nType=ether\nKind=!*\n\n[Network]\nDHCP=ipv4\nAddress=2001:db8::10/64\nGateway=2001:db8::1\n"},
		{"address without gateway", Network{Mode: "bridge", Bridge: "br0", Address: "192.0.2.10/24"},
			"[Match]\nType=ether\nKind=!*\n\n[Network]\nAddress=192.0.2.10/24\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, staticNetwork(tc.net))
		})
	}
}

func TestGuestCredentials(t *testing.T) {
	env := testBridgeEnv()
	env.Guest.AdminKeys = []string{adminKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBobsKeyxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx bob"}
	env.Guest.ACMEDirectory = "https://pebble.test:14000/dir"
	ca := filepath.Join(t.TempDir(), "pebble.pem")
	require.NoError(t, os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o600))
	env.Guest.ACMECA = ca

	c, err := guestCredentials(env, testDeployerPub+"\n")
	require.NoError(t, err)
	assert.Equal(t, adminKey+"\n"+env.Guest.AdminKeys[1]+"\n"+testDeployerPub+"\n", c["ssh.authorized_keys.root"],
		"admin keys then the deployer's, one a line, its trailing newline trimmed")
	assert.Equal(t, "https://pebble.test:14000/dir", c["ostal.acme-directory"])
	assert.Equal(t, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", c["ostal.acme-ca"])
	assert.Equal(t, staticNetwork(env.Network), c["network.network.10-ostal-static"])
	assert.Contains(t, c["network.network.10-ostal-static"], "Address=192.0.2.10/24")
	assert.Len(t, env.Guest.AdminKeys, 2, "the deployer key is not added to the environment")
}

func TestGuestCredentialsDHCPAndNoCA(t *testing.T) {
	env := testUserEnv()
	env.Guest.AdminKeys = []string{adminKey}
	c, err := guestCredentials(env, "")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"ssh.authorized_keys.root": adminKey + "\n",
		"ostal.acme-directory":     LetsEncrypt,
	}, c, "no CA and no static network unless configured")
}

func TestGuestCredentialsMissingCA(t *testing.T) {
	env := testUserEnv()
	env.Guest.ACMECA = filepath.Join(t.TempDir(), "missing.pem")
	_, err := guestCredentials(env, testDeployerPub)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "guest.acme_ca")
	assert.Contains(t, err.Error(), env.Path)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
