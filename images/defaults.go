package images

// Defaults, applied in one place so that the rest of ostal never guesses.
const (
	DefaultSuite  = "trixie"
	DefaultMirror = "http://deb.debian.org/debian"
	// The security archive is on the same host, at a path of its own.
	DefaultSecurityMirror = "http://deb.debian.org/debian-security"
	// DefaultKeyring verifies the archives' Release files; Debian's
	// debian-archive-keyring package installs it.
	DefaultKeyring      = "/usr/share/keyrings/debian-archive-keyring.gpg"
	DefaultArchitecture = "amd64"
	DefaultDiskSize     = "4GiB"
	DefaultCompression  = "zstd"
)

// DefaultKernelCmdline sends the kernel and systemd to the serial console,
// which is what the boot tests and a hosting provider's console read.
var DefaultKernelCmdline = []string{"console=tty0", "console=ttyS0,115200"}

// ApplyDefaults fills every field the spec left empty.
func ApplyDefaults(s *Spec) {
	if s.Suite == "" {
		s.Suite = DefaultSuite
	}
	if s.Mirror == "" {
		s.Mirror = DefaultMirror
	}
	if s.SecurityMirror == "" {
		s.SecurityMirror = DefaultSecurityMirror
	}
	if s.Keyring == "" {
		s.Keyring = DefaultKeyring
	}
	if s.SecurityKeyring == "" {
		s.SecurityKeyring = DefaultKeyring
	}
	if len(s.Components) == 0 {
		s.Components = []string{"main"}
	}
	if s.Architecture == "" {
		s.Architecture = DefaultArchitecture
	}
	if s.Hostname == "" {
		s.Hostname = s.Name
	}
	if s.DiskSize == "" {
		s.DiskSize = DefaultDiskSize
	}
	if s.Compression == "" {
		s.Compression = DefaultCompression
	}
	if s.KernelCmdline == nil {
		s.KernelCmdline = append([]string(nil), DefaultKernelCmdline...)
	}
	for i := range s.Files {
		if s.Files[i].Mode == "" {
			s.Files[i].Mode = "0644"
		}
	}
}
