package harness

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func spec() domainSpec {
	return domainSpec{
		Name: "ostal-test-1-ab", Accel: "qemu", Firmware: "bios", MemoryMiB: 1024, VCPUs: 2, Pool: "ostal-test",
		RootVolume: "root.qcow2", DataVolume: "data.qcow2", SerialLog: "/r/serial.log", ReadyFile: "/r/ready.log",
		Forwards: map[int]int{80: 40080, 22: 40022}, RunID: "1-ab", Owner: 1,
		Credentials: map[string]string{"ssh.authorized_keys.root": "ssh-ed25519 AAAA test"},
	}
}

func TestDomainXML(t *testing.T) {
	x, err := domainXML(spec()).XML()
	require.NoError(t, err)
	for _, want := range []string{
		`<domain type="qemu" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">`,
		`<ostal:run xmlns:ostal="https://ostal.invalid/xmlns/test/1"><ostal:id>1-ab</ostal:id><ostal:pid>1</ostal:pid></ostal:run>`,
		`<memory unit="MiB">1024</memory>`,
		`<entry name="opt/io.systemd.credentials/ssh.authorized_keys.root">ssh-ed25519 AAAA test</entry>`,
		`<type arch="x86_64" machine="pc">hvm</type>`,
		`<source pool="ostal-test" volume="root.qcow2"></source>`,
		`<serial>ostal-data</serial>`,
		`<log file="/r/serial.log" append="off"></log>`,
		`<source path="/r/ready.log"></source>`,
		`<target type="virtio" name="org.ostal.ready"></target>`,
		`<qemu:arg value="user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40080-:80"></qemu:arg>`,
		`<on_reboot>destroy</on_reboot>`,
		`<controller type="usb" index="0" model="none"></controller>`,
	} {
		assert.Contains(t, x, want)
	}
	assert.NotContains(t, x, "firmware=")
}

func TestDomainXMLUEFI(t *testing.T) {
	s := spec()
	s.Firmware = "uefi"
	x, err := domainXML(s).XML()
	require.NoError(t, err)
	assert.Contains(t, x, `<os firmware="efi">`)
	assert.Contains(t, x, `<type arch="x86_64" machine="q35">hvm</type>`)
}

func TestForwardsOnlyOnLoopback(t *testing.T) {
	n := userNetdev(domainSpec{Forwards: map[int]int{22: 1, 443: 2, 25: 3}})
	assert.Equal(t, "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:1-:22,hostfwd=tcp:127.0.0.1:3-:25,hostfwd=tcp:127.0.0.1:2-:443", n)
	assert.Equal(t, 3, strings.Count(n, "127.0.0.1:"))
	assert.NotContains(t, n, "guestfwd", "the guest reaches nothing on the host by its network")
}

func TestOwnerAlive(t *testing.T) {
	assert.True(t, ownerAlive(Prefix+"1-ab-data.qcow2"), "pid 1 lives")
	assert.False(t, ownerAlive(Prefix+"999999999-ab-data.qcow2"))
	assert.True(t, ownerAlive(Prefix+"image-abc.qcow2"), "a name without a pid is not ours to judge")
}

func TestBootErrorShowsConsoleAndFailedUnits(t *testing.T) {
	e := &BootError{Reason: "the guest did not report ready within 5m0s",
		Console: "a\n[FAILED] Failed to start nginx.service - web server.\nb\n"}
	assert.Equal(t, "the guest did not report ready within 5m0s; failed units: nginx.service\n"+
		"last lines of the serial console:\n    a\n    [FAILED] Failed to start nginx.service - web server.\n    b", e.Error())
}

func TestDomainXMLUEFIRefusesSecureBootAndMovesTheNIC(t *testing.T) {
	s := spec()
	s.Firmware = "uefi"
	x, err := domainXML(s).XML()
	require.NoError(t, err)
	assert.Contains(t, x, `<feature enabled="no" name="secure-boot"></feature>`)
	assert.Contains(t, x, `<feature enabled="no" name="enrolled-keys"></feature>`)
	assert.Contains(t, x, `virtio-net-pci,netdev=n0,bus=pcie.0,addr=0x10`)
}

func TestBootErrorNamesAPanicEvenAboveTheTail(t *testing.T) {
	console := "[ 1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n" + strings.Repeat("[ 1.1] trace\n", 40)
	e := &BootError{Reason: "the guest stopped 26s after start", Console: console}
	assert.True(t, strings.HasPrefix(e.Error(), "the guest stopped 26s after start; the kernel says: Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n"), e.Error())
}

func TestHealthyAfterLeavesOutDisruptiveChecks(t *testing.T) {
	r := &Report{ReadyAfter: 60, Results: []Result{
		{Check: "boot", OK: true, Seconds: 3}, {Check: "ssh", OK: true, Seconds: 2},
		{Check: "persistence", OK: true, Seconds: 130, Disruptive: true}}}
	r.finish("[ OK ] Reached target multi-user.target\n")
	assert.Equal(t, 65.0, r.HealthyAfter)
	assert.True(t, r.OK)
	r.finish("[FAILED] Failed to start nginx.service - web server.\n")
	assert.False(t, r.OK, "a failed unit on the console fails the run")
	assert.Equal(t, []string{"[FAILED] Failed to start nginx.service - web server."}, r.ConsoleProblems)
}
