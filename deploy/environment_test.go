package deploy

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/images"
)

const adminKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice"

func TestShippedEnvironmentsLoad(t *testing.T) {
	t.Chdir("..") // names are looked up from the repository's root
	prod, err := LoadEnvironment("tetaneutral")
	require.NoError(t, err)
	assert.Equal(t, "tetaneutral", prod.Name)
	assert.Equal(t, "utzqanil", prod.Domain)
	assert.Equal(t, "192.0.2.10", prod.Health.Address)
	assert.Equal(t, 4096, prod.MemoryMiB())
	assert.Equal(t, uint64(50)<<30, prod.DataVolumes[0].SizeBytes())
	assert.Equal(t, "utzqanil-ostal-data", prod.VolumeName(prod.DataVolumes[0]))
	assert.Equal(t, 15*time.Minute, prod.Health.TimeoutDuration())
	assert.Equal(t, "build/utzqanil.qcow2", prod.Image)

	local, err := LoadEnvironment("deploy/environments/local.yaml")
	require.NoError(t, err)
	assert.Equal(t, map[int]int{22: 40022, 53: 40053, 80: 40080, 443: 40443}, local.Network.Forwards)
	assert.Equal(t, "127.0.0.1", local.Health.Address)
	assert.Equal(t, LetsEncrypt, local.Guest.ACMEDirectory)
	assert.Equal(t, "Europe/Paris", local.Maintenance.Timezone)

	_, err = LoadEnvironment("tetaneutrall")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "environments are local, tetaneutral")
}

// writeEnv writes an environment file into a fresh folder.
func writeEnv(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.yaml")
	require.NoError(t, os.WriteFile(p, []byte(yaml), 0o644))
	return p
}

func TestLoadEnvironmentReportsAllProblemsAtOnce(t *testing.T) {
	p := writeEnv(t, `
uri: qemu:///session
domain: "web site"
memory: 100MiB
data_volumes: [{name: Data, size: 1GiB}]
network: {mode: user, forwards: {80: 40080}}
health: {timeout: 1s}
`)
	_, err := LoadEnvironment(p)
	require.Error(t, err)
	var fields []string
	for _, fe := range images.Problems(err) {
		assert.Equal(t, p, fe.File)
		fields = append(fields, fe.Field)
	}
	assert.Equal(t, []string{"uri", "domain", "memory", "data_volumes[0].name", "data_volumes", "network.forwards", "health.timeout"}, fields)
	assert.Contains(t, err.Error(), "7 problems:\n  "+p+`: uri: "qemu:///session" is a session URI; "/session" is not supported since the system daemon owns the pools: use /system`)
}

func TestLoadEnvironmentUnknownKeysAndTypes(t *testing.T) {
	p := writeEnv(t, "uri: qemu:///system\ndomian: web\nvcpus: two\nnetwork: {mode: user, forwrds: {22: 1}}\n")
	_, err := LoadEnvironment(p)
	require.Error(t, err)
	got := map[string]string{}
	for _, fe := range images.Problems(err) {
		got[fe.Field] = fe.Problem + "; " + fe.Hint
	}
	assert.Equal(t, map[string]string{
		"domian":          `unknown key; did you mean "domain"?`,
		"network.forwrds": `unknown key; did you mean "forwards"?`,
		"vcpus":           `expected int, got string; quote strings ("0644", "4GiB") and write lists as "- item" lines`,
	}, got)
}

func TestLoadEnvironmentResolvesFilesAgainstItsFolder(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "id"), pem.EncodeToMemory(block), 0o600))
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour), IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	p := filepath.Join(dir, "lab.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`
uri: qemu+ssh://root@lab.example:2222/system?keyfile=/k
domain: lab
data_volumes: [{name: ostal-data, size: 64MiB}, {name: logs, size: 1TiB}]
network: {mode: bridge, bridge: br0, address6: "2001:db8::10/64", gateway6: "2001:db8::1", mac: "52:54:00:ab:cd:ef", dns: [9.9.9.9]}
guest: {admin_keys: ["`+adminKey+`"], acme_directory: "https://pebble.lab:14000/dir", acme_ca: ca.pem}
maintenance: {window: "daily 03:00-05:00", timezone: UTC}
health: {address: lab.example, ssh_key: id, checks: ["ssh", "tls.*"]}
`), 0o644))
	t.Chdir(t.TempDir()) // resolved against the file, not the current directory
	env, err := LoadEnvironment(p)
	require.NoError(t, err)
	assert.Equal(t, "lab", env.Name)
	assert.Equal(t, filepath.Join(dir, "ca.pem"), env.Guest.ACMECA)
	assert.Equal(t, filepath.Join(dir, "id"), env.Health.SSHKey)
	assert.Equal(t, uint64(1)<<40, env.DataVolumes[1].SizeBytes())
}

func TestApplyDefaults(t *testing.T) {
	e := &Environment{Domain: "web", Network: Network{Address: "192.0.2.7/24"}}
	applyDefaults(e)
	assert.Equal(t, &Environment{
		Domain: "web", Pool: "default", Image: "build/web.qcow2", Accel: "kvm", VCPUs: 2, Memory: "2GiB",
		Network:     Network{Mode: "bridge", Address: "192.0.2.7/24"},
		Guest:       Guest{ACMEDirectory: LetsEncrypt},
		Maintenance: Maintenance{Timezone: "Europe/Paris"},
		Health:      Health{Address: "192.0.2.7", Timeout: "10m", Checks: []string{"ssh"}},
	}, e)
}

// validEnvironment is a complete, valid environment in user mode.
func validEnvironment() *Environment {
	e := &Environment{Path: "test.yaml", URI: "qemu:///system", Domain: "web",
		DataVolumes: []DataVolume{{Name: "ostal-data", Size: "1GiB"}},
		Network:     Network{Mode: "user", Forwards: map[int]int{22: 40022}}}
	applyDefaults(e)
	return e
}

func bridged(e *Environment) {
	e.Network = Network{Mode: "bridge", Bridge: "br0", Address: "192.0.2.10/24", Gateway: "192.0.2.1"}
}

func TestValidateRules(t *testing.T) {
	for _, tc := range []struct {
		field, problem string // problem: exact, or a prefix ending in "…"
		change         func(e *Environment)
	}{
		{"uri", `"qemu+ssh:///system" names no host`, func(e *Environment) { e.URI = "qemu+ssh:///system" }},
		{"uri", `"lxc:///system": transport "lxc" is not supported`, func(e *Environment) { e.URI = "lxc:///system" }},
		{"uri", `"qemu:///" does not end in /system`, func(e *Environment) { e.URI = "qemu:///" }},
		{"uri", "missing", func(e *Environment) { e.URI = "" }},
		{"domain", "missing", func(e *Environment) { e.Domain = "" }},
		{"domain", `"a.b" is not a domain name`, func(e *Environment) { e.Domain = "a.b" }},
		{"pool", `"my pool" is not a pool name`, func(e *Environment) { e.Pool = "my pool" }},
		{"pool_path", `"pools" is not an absolute path`, func(e *Environment) { e.PoolPath = "pools" }},
		{"accel", `"tcg" is not an accelerator`, func(e *Environment) { e.Accel = "tcg" }},
		{"vcpus", "65 is out of range", func(e *Environment) { e.VCPUs = 65 }},
		{"memory", `"4GB" is not a size`, func(e *Environment) { e.Memory = "4GB" }},
		{"memory", `"256MiB" is less than 512MiB`, func(e *Environment) { e.Memory = "256MiB" }},
		{"data_volumes", `no volume is named "ostal-data"`, func(e *Environment) { e.DataVolumes = nil }},
		{"data_volumes[1].name", `"ostal-data" is listed twice`, func(e *Environment) { e.DataVolumes = append(e.DataVolumes, e.DataVolumes[0]) }},
		{"data_volumes[0].size", `"1MiB" is less than 64MiB`, func(e *Environment) { e.DataVolumes[0].Size = "1MiB" }},
		{"network.mode", `"nat" is not a network mode`, func(e *Environment) { e.Network.Mode = "nat" }},
		{"network.forwards", "no forward of guest port 22", func(e *Environment) { e.Network.Forwards = map[int]int{80: 40080} }},
		{"network.forwards[80]", "host port 40022 is also forwarded from guest port 22", func(e *Environment) { e.Network.Forwards[80] = 40022 }},
		{"network.forwards[70000]", "guest port 70000 is out of range", func(e *Environment) { e.Network.Forwards[70000] = 1 }},
		{"network.forwards[80]", "host port 0 is out of range", func(e *Environment) { e.Network.Forwards[80] = 0 }},
		{"network.bridge", `"br0" is set in user mode`, func(e *Environment) { e.Network.Bridge = "br0" }},
		{"network.bridge", "missing in bridge mode", func(e *Environment) { bridged(e); e.Network.Bridge = "" }},
		{"network.forwards", "forwards are for user mode", func(e *Environment) { f := e.Network.Forwards; bridged(e); e.Network.Forwards = f }},
		{"network.address", `"192.0.2.10" is not an IPv4 address with prefix`, func(e *Environment) { bridged(e); e.Network.Address = "192.0.2.10" }},
		{"network.address6", `"192.0.2.10/24" is not an IPv6 address with prefix`, func(e *Environment) { e.Network.Address6 = "192.0.2.10/24" }},
		{"network.gateway", `"198.51.100.1" is not in 192.0.2.10/24`, func(e *Environment) { bridged(e); e.Network.Gateway = "198.51.100.1" }},
		{"network.gateway6", `"2001:db8::1" is set without an address`, func(e *Environment) { e.Network.Gateway6 = "2001:db8::1" }},
		{"network.gateway6", `"192.0.2.1" is not an IPv6 address`, func(e *Environment) { e.Network.Address6 = "2001:db8::10/64"; e.Network.Gateway6 = "192.0.2.1" }},
		{"network.dns[0]", `"dns.example" is not an IP address`, func(e *Environment) { e.Network.DNS = []string{"dns.example"} }},
		{"network.mac", `"00:16:3e:00:00:01" is not a locally administered unicast MAC address`, func(e *Environment) { e.Network.MAC = "00:16:3e:00:00:01" }},
		{"network.mac", `"53:54:00:00:00:01" is not a locally administered unicast MAC address`, func(e *Environment) { e.Network.MAC = "53:54:00:00:00:01" }},
		{"guest.admin_keys[0]", `"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq" is not an OpenSSH public key`, func(e *Environment) { e.Guest.AdminKeys = []string{adminKey[:60]} }},
		{"guest.acme_directory", `"http://acme.example/dir" is not an https URL`, func(e *Environment) { e.Guest.ACMEDirectory = "http://acme.example/dir" }},
		{"guest.acme_ca", `"nope.pem": no such file or directory`, func(e *Environment) { e.Guest.ACMECA = "nope.pem" }},
		{"guest.acme_ca", `"test.yaml" holds no PEM certificate`, func(e *Environment) { e.Guest.ACMECA = "test.yaml" }},
		{"maintenance.timezone", `"Paris" is not a time zone`, func(e *Environment) { e.Maintenance.Timezone = "Paris" }},
		{"maintenance.window", `"Sunday" is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily)`, func(e *Environment) { e.Maintenance.Window = "Sunday 02:00-04:00" }},
		{"health.address", "missing", func(e *Environment) { bridged(e); e.Network.Address, e.Network.Gateway, e.Health.Address = "", "", "" }},
		{"health.address", `"a b" is not an address`, func(e *Environment) { e.Health.Address = "a b" }},
		{"health.timeout", `"3h" is not a duration between 30s and 2h`, func(e *Environment) { e.Health.Timeout = "3h" }},
		{"health.timeout", `"10" is not a duration between 30s and 2h`, func(e *Environment) { e.Health.Timeout = "10" }},
		{"health.checks[1]", `"[tls" is not a check glob`, func(e *Environment) { e.Health.Checks = []string{"ssh", "[tls"} }},
		{"health.checks[0]", `"" is not a check glob`, func(e *Environment) { e.Health.Checks = []string{""} }},
		{"health.ssh_key", `"test.yaml" is not an OpenSSH private key`, func(e *Environment) { e.Health.SSHKey = "test.yaml" }},
	} {
		t.Run(tc.field+" "+tc.problem, func(t *testing.T) {
			dir := t.TempDir()
			e := validEnvironment()
			e.Path = filepath.Join(dir, "test.yaml")
			require.NoError(t, os.WriteFile(e.Path, []byte("not: a key\n"), 0o644))
			require.NoError(t, validate(e), "the base environment is valid")
			tc.change(e)
			ps := images.Problems(validate(e))
			require.Len(t, ps, 1, "%v", ps)
			assert.Equal(t, tc.field, ps[0].Field)
			assert.Equal(t, tc.problem, ps[0].Problem)
			assert.NotEmpty(t, ps[0].Hint)
		})
	}
}
