// Package provision knows the services an image can offer. Each service is
// a folder here, provision/<name>/rootfs, copied into the image's root
// tree (files ending in .tmpl are rendered from the spec), plus the Debian
// packages and systemd units declared below. Everything that configures a
// service is in its folder, readable by any member of the cooperative.
package provision

import "sort"

// Service is one named service of an image.
type Service struct {
	Name    string
	Summary string
	// Packages are installed with the image's own packages.
	Packages []string
	// Needs are services this one cannot work without.
	Needs []string
	// Units are enabled; Masked never start.
	Units  []string
	Masked []string
	// MaskedGenerators are systemd generators that never run (linked to
	// /dev/null in /etc/systemd/system-generators).
	MaskedGenerators []string
}

// System is what every image gets, with services or without: the guard
// that readies the data volume before it is mounted, and formats it only
// when it is blank (the fstab that ostal writes requires it).
// It needs e2fsprogs, which every image ostal makes lists (the base
// service brings it); without it the volume is refused, never formatted.
var System = Service{Name: "system", Summary: "the data volume's check, and its format when blank",
	// What no VM of ostal's uses: under emulation every unit started
	// costs about 0.3 s of CPU at every boot (systemd's executor is
	// loaded for each), while the whole boot competes for two CPUs.
	// binfmt_misc runs foreign binaries; configfs, FUSE, debugfs and
	// tracefs, huge pages, DRM and EFI's pstore are for hardware,
	// debuggers and file systems the VM has not; networks from the
	// kernel's command line (ip=) and udev rules from credentials are
	// never given.
	Masked: []string{"proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount", "systemd-binfmt.service",
		"sys-kernel-config.mount", "modprobe@configfs.service", "sys-fs-fuse-connections.mount", "modprobe@fuse.service",
		"sys-kernel-debug.mount", "sys-kernel-tracing.mount", "dev-hugepages.mount", "modprobe@drm.service",
		"modprobe@efi_pstore.service", "systemd-network-generator.service", "systemd-udev-load-credentials.service"},
	// Generators run at every boot and every daemon-reload. The SSH one
	// would offer sshd on AF_VSOCK: it loads the vsock modules, finds no
	// such device, and says it failed on the console of every boot. The
	// image mounts its partitions from its fstab (not gpt-auto), has no
	// TPM, no swap to resume from, no offline updates and no rc.local.
	MaskedGenerators: []string{"systemd-ssh-generator", "systemd-gpt-auto-generator", "systemd-tpm2-generator",
		"systemd-hibernate-resume-generator", "systemd-system-update-generator", "systemd-rc-local-generator"},
}

// Base is what every image with services gets: the data volume's
// set-up, secrets, members and the health report.
var Base = Service{
	Name: "base", Summary: "data volume, secrets, members, health",
	Packages: []string{"e2fsprogs", "python3-bcrypt", "openssl"},
	Units:    []string{"ostal-data.service", "systemd-networkd.service", "ostal-ready.service"},
	// e2scrub checks ext4 on LVM snapshots: the VM has no LVM, and its
	// reaper alone took 7 to 14 s of every boot under emulation.
	Masked: []string{"e2scrub_reap.service", "e2scrub_all.timer"},
}

// Services are the services a spec may list, by name.
var Services = map[string]Service{
	"ssh": {Summary: "OpenSSH for the committee's admin keys, host keys on the data volume",
		Packages: []string{"openssh-server"},
		Units:    []string{"ssh.service", "ssh-host-keys.service"},
		// Debian's own first-boot keys (RSA among them, seconds of an
		// emulated boot at every swap) would be made in /etc/ssh, where
		// sshd does not look: ssh-host-keys.service keeps the machine's.
		Masked: []string{"sshd-keygen.service"}},
	"firewall": {Summary: "nftables: only SSH, SMTP, DNS and web reach the machine",
		Packages: []string{"nftables"},
		Units:    []string{"nftables.service", "ostal-public-ports.service"}},
	"tls": {Summary: "nginx in front of every site, HTTPS only, certificates from ACME",
		Packages: []string{"nginx", "lego"},
		Units:    []string{"nginx.service", "ostal-tls-init.service", "ostal-acme.timer"}},
	"dns": {Summary: "Knot, authoritative and DNSSEC-signed for the domain",
		Packages: []string{"knot"},
		Units:    []string{"knot.service", "ostal-dns-init.service"}},
	"wiki": {Summary: "MediaWiki with MariaDB at wiki.DOMAIN",
		Needs:    []string{"tls"},
		Packages: []string{"mediawiki", "mariadb-server", "php-fpm", "php-mysql", "php-intl", "php-mbstring", "php-xml", "php-gd", "php-apcu"},
		Units:    []string{"mariadb.service", "php8.4-fpm.service", "ostal-wiki-init.service"},
		Masked:   []string{"phpsessionclean.timer"}},
	"www": {Summary: "WordPress at www.DOMAIN and DOMAIN",
		Needs:    []string{"tls"},
		Packages: []string{"wordpress", "wordpress-theme-twentytwentyfive", "mariadb-server", "php-fpm", "php-mysql", "php-mbstring", "php-xml", "php-gd"},
		Units:    []string{"mariadb.service", "php8.4-fpm.service", "ostal-www-init.service", "ostal-www-cron.timer"},
		Masked:   []string{"phpsessionclean.timer"}},
	"lists": {Summary: "Mailman 3 (Postorius, HyperKitty) and Postfix at listes.DOMAIN, DKIM-signed",
		Needs:    []string{"tls"},
		Packages: []string{"postfix", "mailman3-full", "opendkim", "opendkim-tools"},
		Units:    []string{"postfix.service", "opendkim.service", "mailman3.service", "mailman3-web.service", "ostal-lists-init.service", "ostal-lists-web-init.service"}},
	"files": {Summary: "WebDAV file storage with an account per member at files.DOMAIN",
		Needs:    []string{"tls"},
		Packages: []string{"nginx", "libnginx-mod-http-dav-ext"}},
	"dav": {Summary: "Radicale calendars and address books at dav.DOMAIN",
		Needs:    []string{"tls"},
		Packages: []string{"radicale"},
		Units:    []string{"radicale.service"}},
}

func init() {
	for name, s := range Services {
		s.Name = name
		Services[name] = s
	}
}

// Names lists the known services, sorted.
func Names() []string {
	names := make([]string, 0, len(Services))
	for n := range Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Selected returns Base and the named services, in the spec's order;
// unknown names are left out (validation reports them).
func Selected(names []string) []Service {
	if len(names) == 0 {
		return []Service{System}
	}
	out := []Service{System, Base}
	for _, n := range names {
		if s, ok := Services[n]; ok {
			out = append(out, s)
		}
	}
	return out
}

// Union merges lists, keeping the first occurrence's order.
func Union(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, x := range l {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return out
}
