package images

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/didyoumean"
)

// PackageIndex answers which packages a suite has; nil skips those checks
// (ostal validate --offline).
type PackageIndex interface {
	Has(name string) bool
	Names() []string
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	packageRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	unitRE     = regexp.MustCompile(`^[A-Za-z0-9:_.@-]+\.(service|socket|timer|target|path|mount)$`)
	sizeRE     = regexp.MustCompile(`^(\d+)\s*(MiB|GiB|M|G)$`)
	minDiskMiB = int64(512)
	maxDiskMiB = int64(64) << 20 // 64 TiB
)

// Validate checks every field of a loaded spec and returns all problems at
// once. provisionDir is where files[].source are looked up.
func Validate(s *Spec, provisionDir string, idx PackageIndex) error {
	p := &problems{file: s.Path}
	if !nameRE.MatchString(s.Name) {
		p.add("name", "use lower-case letters, digits and dashes, e.g. utzqanil", "%q is not a valid image name", s.Name)
	}
	// The host name defaults to the image name: report a bad one once.
	if s.Hostname != s.Name && !nameRE.MatchString(s.Hostname) {
		p.add("hostname", "use lower-case letters, digits and dashes", "%q is not a valid host name", s.Hostname)
	}
	for _, m := range []struct{ field, url, example string }{
		{"mirror", s.Mirror, DefaultMirror}, {"security_mirror", s.SecurityMirror, DefaultSecurityMirror}} {
		if u, err := url.Parse(m.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(m.field, "write a full URL such as "+m.example, "%q is not an http(s) URL", m.url)
		}
	}
	if s.Architecture != "amd64" {
		p.add("architecture", `ostal's bootloader set-up supports "amd64" only`, "%q is not supported", s.Architecture)
	}
	if s.Submission != nil {
		value := fmt.Sprint(s.Submission)
		if str, ok := s.Submission.(string); ok {
			value = strconv.Quote(str)
		}
		p.add("submission", "remove the line: the machine has mailing lists and no mailboxes, so there is no account to submit mail with; "+
			"members send to the lists from their own provider's server",
			"%s: the submission option was removed (it opened port 587 with nothing behind it)", value)
	}
	validatePackages(p, s.Packages, s.Suite, idx)
	validateSite(p, s)
	validateFiles(p, s.Files, provisionDir)
	seen := map[string]string{}
	for _, list := range []struct {
		key   string
		units []string
	}{{"units", s.Units}, {"masked_units", s.MaskedUnits}} {
		for i, u := range list.units {
			field := fmt.Sprintf("%s[%d]", list.key, i)
			switch {
			case !unitRE.MatchString(u):
				p.add(field, "name the unit with its suffix, e.g. ssh.service", "%q is not a systemd unit name", u)
			case seen[u] == list.key:
				p.add(field, "remove the repetition", "%q is listed twice", u)
			case seen[u] != "":
				p.add(field, "a unit is either enabled or masked: remove it from one list", "%q is also in %s", u, seen[u])
			}
			seen[u] = list.key
		}
	}
	if _, err := DiskSizeBytes(s.DiskSize); err != nil {
		p.add("disk_size", fmt.Sprintf(`write a size such as "4GiB" (at least %d MiB)`, minDiskMiB), "%v", err)
	}
	if s.Compression != "zstd" && s.Compression != "zlib" {
		p.add("compression", `use "zstd" (QEMU 5.1 or newer reads it) or "zlib" (every QEMU does)`, "%q is not a known qcow2 compression", s.Compression)
	}
	for i, arg := range s.KernelCmdline {
		if strings.HasPrefix(arg, "root=") || strings.HasPrefix(arg, "rootfstype=") {
			p.add(fmt.Sprintf("kernel_cmdline[%d]", i), "remove it: ostal points root= at the image's own partition", "%q is set by ostal", arg)
		}
	}
	return p.err()
}

func validatePackages(p *problems, pkgs []string, suite string, idx PackageIndex) {
	if len(pkgs) == 0 {
		p.add("packages", "list at least a kernel, e.g. linux-image-amd64", "no packages")
	}
	seen := map[string]bool{}
	var names []string
	for i, name := range pkgs {
		field := fmt.Sprintf("packages[%d]", i)
		switch {
		case !packageRE.MatchString(name):
			p.add(field, "Debian package names use lower-case letters, digits and + . -", "%q is not a package name", name)
		case seen[name]:
			p.add(field, "remove the repetition", "%q is listed twice", name)
		case idx != nil && !idx.Has(name):
			if names == nil {
				names = idx.Names()
			}
			hint := "look it up with `apt-cache search` on a " + suite + " system"
			if s := didyoumean.NameSuggestion(name, names); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			p.add(field, hint, "%q is not in %s", name, suite)
		}
		seen[name] = true
	}
}

func validateFiles(p *problems, files []File, provisionDir string) {
	for i, f := range files {
		field := fmt.Sprintf("files[%d]", i)
		src := filepath.Join(provisionDir, filepath.FromSlash(f.Source))
		switch {
		case f.Source == "" || path.IsAbs(f.Source) || strings.HasPrefix(path.Clean(f.Source), ".."):
			p.add(field+".source", "give a path relative to "+provisionDir+", e.g. base/sshd.conf", "%q is not inside the provision folder", f.Source)
		default:
			if _, err := os.Stat(src); err != nil {
				p.add(field+".source", "create the file or fix the path (relative to "+provisionDir+")", "%q does not exist", src)
			}
		}
		if !path.IsAbs(f.Dest) || path.Clean(f.Dest) != f.Dest || f.Dest == "/" {
			p.add(field+".dest", "give a clean absolute path in the image, e.g. /etc/ssh/sshd_config.d/ostal.conf", "%q is not an absolute path", f.Dest)
		}
		if m, err := strconv.ParseUint(f.Mode, 8, 32); err != nil || m > 0o7777 {
			p.add(field+".mode", `write an octal mode in quotes, e.g. "0644"`, "%q is not a file mode", f.Mode)
		}
	}
}

// DiskSizeBytes parses sizes such as "4GiB" or "512M" (binary units).
func DiskSizeBytes(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %w", s, err)
	}
	mib := n
	if strings.HasPrefix(m[2], "G") {
		mib = n * 1024
	}
	if mib > maxDiskMiB {
		return 0, fmt.Errorf("%q is larger than %d TiB, the most ostal makes", s, maxDiskMiB>>20)
	}
	if mib < minDiskMiB {
		return 0, fmt.Errorf("%q is smaller than %d MiB", s, minDiskMiB)
	}
	return mib << 20, nil
}
