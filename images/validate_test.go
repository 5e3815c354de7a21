package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testIndex is the small Packages sample under testdata.
func testIndex(t *testing.T) *Index {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "Packages"))
	require.NoError(t, err)
	defer f.Close()
	idx, err := ParseIndex(f)
	require.NoError(t, err)
	return idx
}

// provisionDir is a provision folder holding base/motd.
func provisionDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(d, "base"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d, "base", "motd"), []byte("hi\n"), 0o644))
	return d
}

// goodSpec passes Validate against testIndex and provisionDir.
func goodSpec() *Spec {
	s := &Spec{
		Path:     "images/x.yaml",
		Name:     "web",
		Packages: []string{"linux-image-amd64", "nginx", "postfix", "mediawiki"},
		Files:    []File{{Source: "base/motd", Dest: "/etc/motd"}},
		Units:    []string{"nginx.service", "postfix@-.service", "fstrim.timer"},
	}
	ApplyDefaults(s)
	return s
}

func TestValidateGoodSpec(t *testing.T) {
	require.NoError(t, Validate(goodSpec(), provisionDir(t), testIndex(t)))
	require.NoError(t, Validate(goodSpec(), provisionDir(t), nil), "offline")
}

func TestValidateVirtualPackageIsAccepted(t *testing.T) {
	s := goodSpec()
	s.Packages = append(s.Packages, "mail-transport-agent")
	require.NoError(t, Validate(s, provisionDir(t), testIndex(t)))
}

// Each case breaks one rule; the whole message is what `ostal validate` prints.
func TestValidateRules(t *testing.T) {
	cases := []struct {
		name   string
		change func(s *Spec)
		want   string
	}{
		{"name with capitals", func(s *Spec) { s.Name = "Web_1" },
			`images/x.yaml: name: "Web_1" is not a valid image name; use lower-case letters, digits and dashes, e.g. utzqanil`},
		{"empty name", func(s *Spec) { s.Name = "" },
			`images/x.yaml: name: "" is not a valid image name; use lower-case letters, digits and dashes, e.g. utzqanil`},
		{"name ending in a dash", func(s *Spec) { s.Name = "web-" },
			`images/x.yaml: name: "web-" is not a valid image name; use lower-case letters, digits and dashes, e.g. utzqanil`},
		{"host name too long", func(s *Spec) { s.Hostname = strings.Repeat("a", 64) },
			`images/x.yaml: hostname: "` + strings.Repeat("a", 64) + `" is not a valid host name; use lower-case letters, digits and dashes`},
		{"host name with a dot", func(s *Spec) { s.Hostname = "web.example.org" },
			`images/x.yaml: hostname: "web.example.org" is not a valid host name; use lower-case letters, digits and dashes`},
		{"mirror without scheme", func(s *Spec) { s.Mirror = "deb.debian.org/debian" },
			`images/x.yaml: mirror: "deb.debian.org/debian" is not an http(s) URL; write a full URL such as http://deb.debian.org/debian`},
		{"ftp mirror", func(s *Spec) { s.Mirror = "ftp://ftp.debian.org/debian" },
			`images/x.yaml: mirror: "ftp://ftp.debian.org/debian" is not an http(s) URL; write a full URL such as http://deb.debian.org/debian`},
		{"mirror without host", func(s *Spec) { s.Mirror = "http:///debian" },
			`images/x.yaml: mirror: "http:///debian" is not an http(s) URL; write a full URL such as http://deb.debian.org/debian`},
		{"security mirror without scheme", func(s *Spec) { s.SecurityMirror = "deb.debian.org/debian-security" },
			`images/x.yaml: security_mirror: "deb.debian.org/debian-security" is not an http(s) URL; write a full URL such as http://deb.debian.org/debian-security`},
		{"arm64", func(s *Spec) { s.Architecture = "arm64" },
			`images/x.yaml: architecture: "arm64" is not supported; ostal's bootloader set-up supports "amd64" only`},
		{"no packages", func(s *Spec) { s.Packages = nil },
			`images/x.yaml: packages: no packages; list at least a kernel, e.g. linux-image-amd64`},
		{"bad package name", func(s *Spec) { s.Packages[1] = "Nginx" },
			`images/x.yaml: packages[1]: "Nginx" is not a package name; Debian package names use lower-case letters, digits and + . -`},
		{"one-letter package name", func(s *Spec) { s.Packages[1] = "x" },
			`images/x.yaml: packages[1]: "x" is not a package name; Debian package names use lower-case letters, digits and + . -`},
		{"package twice", func(s *Spec) { s.Packages = append(s.Packages, "nginx") },
			`images/x.yaml: packages[4]: "nginx" is listed twice; remove the repetition`},
		{"misspelt package", func(s *Spec) { s.Packages[3] = "mediawik" },
			`images/x.yaml: packages[3]: "mediawik" is not in trixie; did you mean "mediawiki"?`},
		{"unknown package, nothing close", func(s *Spec) { s.Packages[3] = "wordpress" },
			"images/x.yaml: packages[3]: \"wordpress\" is not in trixie; look it up with `apt-cache search` on a trixie system"},
		{"unknown package names the suite", func(s *Spec) { s.Suite = "forky"; s.Packages[3] = "wordpress" },
			"images/x.yaml: packages[3]: \"wordpress\" is not in forky; look it up with `apt-cache search` on a forky system"},
		{"absolute source", func(s *Spec) { s.Files[0].Source = "/etc/motd" },
			`images/x.yaml: files[0].source: "/etc/motd" is not inside the provision folder; give a path relative to PROV, e.g. base/sshd.conf`},
		{"source escaping the folder", func(s *Spec) { s.Files[0].Source = "base/../../secret" },
			`images/x.yaml: files[0].source: "base/../../secret" is not inside the provision folder; give a path relative to PROV, e.g. base/sshd.conf`},
		{"empty source", func(s *Spec) { s.Files[0].Source = "" },
			`images/x.yaml: files[0].source: "" is not inside the provision folder; give a path relative to PROV, e.g. base/sshd.conf`},
		{"missing source", func(s *Spec) { s.Files[0].Source = "base/issue" },
			`images/x.yaml: files[0].source: "PROV/base/issue" does not exist; create the file or fix the path (relative to PROV)`},
		{"relative dest", func(s *Spec) { s.Files[0].Dest = "etc/motd" },
			`images/x.yaml: files[0].dest: "etc/motd" is not an absolute path; give a clean absolute path in the image, e.g. /etc/ssh/sshd_config.d/ostal.conf`},
		{"unclean dest", func(s *Spec) { s.Files[0].Dest = "/etc//motd" },
			`images/x.yaml: files[0].dest: "/etc//motd" is not an absolute path; give a clean absolute path in the image, e.g. /etc/ssh/sshd_config.d/ostal.conf`},
		{"dest is the root", func(s *Spec) { s.Files[0].Dest = "/" },
			`images/x.yaml: files[0].dest: "/" is not an absolute path; give a clean absolute path in the image, e.g. /etc/ssh/sshd_config.d/ostal.conf`},
		{"mode not octal", func(s *Spec) { s.Files[0].Mode = "0798" },
			`images/x.yaml: files[0].mode: "0798" is not a file mode; write an octal mode in quotes, e.g. "0644"`},
		{"mode too large", func(s *Spec) { s.Files[0].Mode = "10000" },
			`images/x.yaml: files[0].mode: "10000" is not a file mode; write an octal mode in quotes, e.g. "0644"`},
		{"symbolic mode", func(s *Spec) { s.Files[0].Mode = "u+rw" },
			`images/x.yaml: files[0].mode: "u+rw" is not a file mode; write an octal mode in quotes, e.g. "0644"`},
		{"unit without suffix", func(s *Spec) { s.Units[0] = "nginx" },
			`images/x.yaml: units[0]: "nginx" is not a systemd unit name; name the unit with its suffix, e.g. ssh.service`},
		{"unit twice", func(s *Spec) { s.Units = append(s.Units, "fstrim.timer") },
			`images/x.yaml: units[3]: "fstrim.timer" is listed twice; remove the repetition`},
		{"disk size in GB", func(s *Spec) { s.DiskSize = "4GB" },
			`images/x.yaml: disk_size: "4GB" is not a size; write a size such as "4GiB" (at least 512 MiB)`},
		{"disk too small", func(s *Spec) { s.DiskSize = "256MiB" },
			`images/x.yaml: disk_size: "256MiB" is smaller than 512 MiB; write a size such as "4GiB" (at least 512 MiB)`},
		{"unknown compression", func(s *Spec) { s.Compression = "xz" },
			`images/x.yaml: compression: "xz" is not a known qcow2 compression; use "zstd" (QEMU 5.1 or newer reads it) or "zlib" (every QEMU does)`},
		{"root= on the command line", func(s *Spec) { s.KernelCmdline = []string{"quiet", "root=/dev/sda1"} },
			`images/x.yaml: kernel_cmdline[1]: "root=/dev/sda1" is set by ostal; remove it: ostal points root= at the image's own partition`},
		{"rootfstype= on the command line", func(s *Spec) { s.KernelCmdline = []string{"rootfstype=btrfs"} },
			`images/x.yaml: kernel_cmdline[0]: "rootfstype=btrfs" is set by ostal; remove it: ostal points root= at the image's own partition`},
		{"submission, a removed option", func(s *Spec) { s.Submission = true },
			`images/x.yaml: submission: true: the submission option was removed (it opened port 587 with nothing behind it); ` + submissionHint},
		{"submission: false, still the removed option", func(s *Spec) { s.Submission = false },
			`images/x.yaml: submission: false: the submission option was removed (it opened port 587 with nothing behind it); ` + submissionHint},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prov := provisionDir(t)
			s := goodSpec()
			c.change(s)
			err := Validate(s, prov, testIndex(t))
			require.Error(t, err)
			assert.Equal(t, strings.ReplaceAll(c.want, "PROV", prov), err.Error())
			ps := Problems(err)
			require.Len(t, ps, 1)
			assert.Equal(t, "images/x.yaml", ps[0].File)
		})
	}
}

const submissionHint = "remove the line: the machine has mailing lists and no mailboxes, so there is no account to submit mail with; " +
	"members send to the lists from their own provider's server"

// A spec file that still has the removed submission key loads (the key is
// known), and validation refuses it with the file, the key and its value.
func TestValidateSubmissionFromFile(t *testing.T) {
	path := writeSpec(t, "name: web\npackages: [linux-image-amd64]\nsubmission: yes\n")
	s, err := Load(path)
	require.NoError(t, err)
	err = Validate(s, provisionDir(t), nil)
	require.Error(t, err)
	ps := Problems(err)
	require.Len(t, ps, 1)
	assert.Equal(t, path, ps[0].File)
	assert.Equal(t, "submission", ps[0].Field)
	assert.Equal(t, path+`: submission: "yes": the submission option was removed (it opened port 587 with nothing behind it); `+submissionHint, err.Error())
}

func TestValidateAcceptsZlib(t *testing.T) {
	s := goodSpec()
	s.Compression = "zlib"
	require.NoError(t, Validate(s, provisionDir(t), testIndex(t)))
}

func TestValidateOfflineSkipsPackageExistence(t *testing.T) {
	s := goodSpec()
	s.Packages[3] = "mediawik"
	require.NoError(t, Validate(s, provisionDir(t), nil))
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	prov := provisionDir(t)
	s := goodSpec()
	s.Name = "Web"
	s.Packages = []string{"linux-image-amd64", "ngix", "nginx", "mediawik"}
	s.Files = append(s.Files, File{Source: "base/gone", Dest: "etc/gone", Mode: "999"})
	s.DiskSize = "4 TB"

	err := Validate(s, prov, testIndex(t))
	require.Error(t, err)
	assert.Equal(t, strings.ReplaceAll(`7 problems:
  images/x.yaml: name: "Web" is not a valid image name; use lower-case letters, digits and dashes, e.g. utzqanil
  images/x.yaml: packages[1]: "ngix" is not in trixie; did you mean "nginx"?
  images/x.yaml: packages[3]: "mediawik" is not in trixie; did you mean "mediawiki"?
  images/x.yaml: files[1].source: "PROV/base/gone" does not exist; create the file or fix the path (relative to PROV)
  images/x.yaml: files[1].dest: "etc/gone" is not an absolute path; give a clean absolute path in the image, e.g. /etc/ssh/sshd_config.d/ostal.conf
  images/x.yaml: files[1].mode: "999" is not a file mode; write an octal mode in quotes, e.g. "0644"`, "PROV", prov)+"\n"+
		`  images/x.yaml: disk_size: "4 TB" is not a size; write a size such as "4GiB" (at least 512 MiB)`,
		err.Error())
	assert.Len(t, Problems(err), 7)
}

func TestDiskSizeBytes(t *testing.T) {
	cases := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "4GiB", want: 4 << 30},
		{in: "4G", want: 4 << 30},
		{in: "512MiB", want: 512 << 20},
		{in: "512M", want: 512 << 20},
		{in: "1536M", want: 1536 << 20},
		{in: " 8GiB ", want: 8 << 30},
		{in: "2 GiB", want: 2 << 30},
		{in: "511MiB", wantErr: `"511MiB" is smaller than 512 MiB`},
		{in: "0G", wantErr: `"0G" is smaller than 512 MiB`},
		{in: "4GB", wantErr: `"4GB" is not a size`},
		{in: "4gib", wantErr: `"4gib" is not a size`},
		{in: "4096", wantErr: `"4096" is not a size`},
		{in: "1.5GiB", wantErr: `"1.5GiB" is not a size`},
		{in: "-1GiB", wantErr: `"-1GiB" is not a size`},
		{in: "", wantErr: `"" is not a size`},
		{in: "99999999999999999999GiB", wantErr: `"99999999999999999999GiB" is not a size: `},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := DiskSizeBytes(c.in)
			if c.wantErr != "" {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), c.wantErr), "got %q", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestDiskSizeBytesOverflow(t *testing.T) {
	got, err := DiskSizeBytes("8796093022208GiB")
	assert.Error(t, err, "got %d bytes", got)
}

func TestValidateMaskedUnits(t *testing.T) {
	s := &Spec{Path: "images/x.yaml", Name: "x", Hostname: "x", Mirror: DefaultMirror, SecurityMirror: DefaultSecurityMirror, Architecture: "amd64",
		Packages: []string{"bash"}, DiskSize: "4GiB", Compression: "zstd",
		Units: []string{"ssh.service"}, MaskedUnits: []string{"ssh.service", "mailman3", "exim4.service", "exim4.service"}}
	err := Validate(s, t.TempDir(), nil)
	require.Error(t, err)
	assert.Equal(t, []string{
		`images/x.yaml: masked_units[0]: "ssh.service" is also in units; a unit is either enabled or masked: remove it from one list`,
		`images/x.yaml: masked_units[1]: "mailman3" is not a systemd unit name; name the unit with its suffix, e.g. ssh.service`,
		`images/x.yaml: masked_units[3]: "exim4.service" is listed twice; remove the repetition`,
	}, problemLines(err))
}

func problemLines(err error) []string {
	var out []string
	for _, p := range Problems(err) {
		out = append(out, p.Error())
	}
	return out
}
