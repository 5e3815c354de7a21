// Package images reads, validates and locks the declarative image specs kept
// in this folder (utzqanil.yaml and its lock).
package images

import (
	"path/filepath"
	"strings"

	"github.com/ostal/ostal/provision"
)

// Spec is one image as declared in images/<name>.yaml. Field names are the
// YAML keys; defaults are applied in one place, ApplyDefaults.
type Spec struct {
	// Path is the file the spec was read from; every error names it.
	Path string `mapstructure:"-"`

	Name  string `mapstructure:"name"`
	Suite string `mapstructure:"suite"`
	// Mirror serves the suite and SUITE-updates; Keyring holds the key
	// their Release files are signed with.
	Mirror  string `mapstructure:"mirror"`
	Keyring string `mapstructure:"keyring"`
	// SecurityMirror serves SUITE-security, Debian's security fixes, at a
	// path of its own (debian-security); SecurityKeyring verifies it.
	SecurityMirror  string   `mapstructure:"security_mirror"`
	SecurityKeyring string   `mapstructure:"security_keyring"`
	Components      []string `mapstructure:"components"`
	Architecture    string   `mapstructure:"architecture"`
	Hostname        string   `mapstructure:"hostname"`
	// Domain is the cooperative's DNS domain: the services answer for
	// wiki.DOMAIN, www.DOMAIN and so on.
	Domain string `mapstructure:"domain"`
	// Services are named in provision/services.go; each brings its
	// packages, units and the files of provision/<name>/.
	Services []string `mapstructure:"services"`
	// AdminKeys are the committee's SSH public keys, for root logins.
	AdminKeys []string `mapstructure:"admin_keys"`
	// Submission is a removed option (it opened port 587 with no mail
	// server behind it: the machine has lists, no mailboxes); read only
	// so that Validate can say so.
	Submission any `mapstructure:"submission"`
	DNS        DNS `mapstructure:"dns"`
	// Mail is where the mail this machine takes for its people goes.
	Mail Mail `mapstructure:"mail"`
	// Packages are installed together with Debian's Essential:yes set.
	Packages []string `mapstructure:"packages"`
	// Files are copied from the provision/ folder into the root tree.
	Files []File `mapstructure:"files"`
	// Units are systemd units enabled in the image.
	Units []string `mapstructure:"units"`
	// MaskedUnits never start, whatever their package enables: services a
	// server does not need, or not configured yet.
	MaskedUnits []string `mapstructure:"masked_units"`
	// DiskSize is the size of the whole virtual disk, e.g. "4GiB".
	DiskSize      string   `mapstructure:"disk_size"`
	KernelCmdline []string `mapstructure:"kernel_cmdline"`
	// Compression of the qcow2's clusters: "zstd" (fast; QEMU 5.1 or newer
	// reads it) or "zlib" (slower; every QEMU reads it).
	Compression string `mapstructure:"compression"`
}

// Source is one archive the lock resolves from, with the spec's keys it
// comes from (for errors).
type Source struct {
	Suite, Mirror, Keyring    string
	MirrorField, KeyringField string
}

// Sources are the archives of the image: the suite, its -updates and its
// -security archive, in the order a package found in several is recorded.
// A relative keyring is relative to the spec's folder.
func (s *Spec) Sources() []Source {
	key := func(k string) string {
		if k != "" && !filepath.IsAbs(k) && s.Path != "" {
			return filepath.Join(filepath.Dir(s.Path), k)
		}
		return k
	}
	mirror := strings.TrimRight(s.Mirror, "/")
	return []Source{
		{s.Suite, mirror, key(s.Keyring), "mirror", "keyring"},
		{s.Suite + "-updates", mirror, key(s.Keyring), "mirror", "keyring"},
		{s.Suite + "-security", strings.TrimRight(s.SecurityMirror, "/"), key(s.SecurityKeyring), "security_mirror", "security_keyring"},
	}
}

// IsSecurityArchive tells Debian's security archive (SUITE-security) from
// the others: a package whose new version comes from it is a security fix.
func IsSecurityArchive(suite string) bool { return strings.HasSuffix(suite, "-security") }

// File copies Source (relative to the provision directory) to Dest inside
// the image.
type File struct {
	Source string `mapstructure:"source"`
	Dest   string `mapstructure:"dest"`
	// Mode is octal, as in chmod: "0644". Directories are copied
	// recursively and keep the mode of their files.
	Mode string `mapstructure:"mode"`
}

// DNS is what the zone of Domain says beyond what the services imply.
type DNS struct {
	// Address and Address6 are the machine's public addresses, published
	// as the A and AAAA records of every name.
	Address  string `mapstructure:"address"`
	Address6 string `mapstructure:"address6"`
	// Nameservers are the zone's NS names; ns1.DOMAIN (this machine) by
	// default.
	Nameservers []string `mapstructure:"nameservers"`
	Records     []Record `mapstructure:"records"`
}

// Mail says where mail to the domain's roles goes: the machine has lists
// and no mailboxes.
type Mail struct {
	// Postmaster receives postmaster@ and abuse@ of the domain, of the
	// lists' domain and of the machine (DMARC reports, CAA and ACME
	// notices and Mailman name postmaster@DOMAIN): the committee's
	// address. Required with the lists service, which takes the mail.
	Postmaster string `mapstructure:"postmaster"`
}

// Record is one more resource record of the zone, e.g.
// {name: "@", type: "TXT", value: "\"google-site-verification=...\""}.
type Record struct {
	// Name is relative to the domain ("@" for the domain itself).
	Name  string `mapstructure:"name"`
	Type  string `mapstructure:"type"`
	Value string `mapstructure:"value"`
	TTL   int    `mapstructure:"ttl"`
}

// AllPackages are the spec's packages and those of its services.
func (s *Spec) AllPackages() []string {
	lists := [][]string{s.Packages}
	for _, svc := range provision.Selected(s.Services) {
		lists = append(lists, svc.Packages)
	}
	return provision.Union(lists...)
}

// AllUnits are the units to enable: the spec's and its services'.
func (s *Spec) AllUnits() []string {
	lists := [][]string{s.Units}
	for _, svc := range provision.Selected(s.Services) {
		lists = append(lists, svc.Units)
	}
	return provision.Union(lists...)
}

// AllMaskedGenerators are the systemd generators its services mask.
func (s *Spec) AllMaskedGenerators() []string {
	var lists [][]string
	for _, svc := range provision.Selected(s.Services) {
		lists = append(lists, svc.MaskedGenerators)
	}
	return provision.Union(lists...)
}

// AllMasked are the units masked by the spec and by its services.
func (s *Spec) AllMasked() []string {
	lists := [][]string{s.MaskedUnits}
	for _, svc := range provision.Selected(s.Services) {
		lists = append(lists, svc.Masked)
	}
	return provision.Union(lists...)
}
