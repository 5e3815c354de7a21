// Package images reads, validates and locks the declarative image specs kept
// in this folder (utzqanil.yaml and its lock).
package images

// Spec is one image as declared in images/<name>.yaml. Field names are the
// YAML keys; defaults are applied in one place, ApplyDefaults.
type Spec struct {
	// Path is the file the spec was read from; every error names it.
	Path string `mapstructure:"-"`

	Name         string   `mapstructure:"name"`
	Suite        string   `mapstructure:"suite"`
	Mirror       string   `mapstructure:"mirror"`
	Components   []string `mapstructure:"components"`
	Architecture string   `mapstructure:"architecture"`
	Hostname     string   `mapstructure:"hostname"`
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

// File copies Source (relative to the provision directory) to Dest inside
// the image.
type File struct {
	Source string `mapstructure:"source"`
	Dest   string `mapstructure:"dest"`
	// Mode is octal, as in chmod: "0644". Directories are copied
	// recursively and keep the mode of their files.
	Mode string `mapstructure:"mode"`
}
