package builders

import (
	"os"
	"path/filepath"

	"github.com/ostal/ostal/images"
)

// Config is what one build needs: from the ostal command line it comes
// from flags, under Packer from the builder block (builders/packerplugin
// decodes it by these mapstructure names).
type Config struct {
	Spec         string `mapstructure:"spec"`
	Lock         string `mapstructure:"lock"`
	ProvisionDir string `mapstructure:"provision_dir"`
	OutputDir    string `mapstructure:"output_dir"`
	CacheDir     string `mapstructure:"cache_dir"`

	// Set by the ostal binary, recorded in the manifest.
	Version string `mapstructure:"-"`
	Commit  string `mapstructure:"-"`
}

// ApplyDefaults fills paths the caller left empty: the lock beside the spec,
// provision/ and build/ in the working directory, and the cache directory.
func (c *Config) ApplyDefaults() {
	if c.Lock == "" && c.Spec != "" {
		c.Lock = images.LockPath(c.Spec)
	}
	if c.ProvisionDir == "" {
		c.ProvisionDir = "provision"
	}
	if c.OutputDir == "" {
		c.OutputDir = "build"
	}
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir()
	}
}

// DefaultCacheDir is $OSTAL_CACHE, else /var/cache/ostal for root, else the
// user's cache directory. Caches live outside the clone and are never
// required: an empty cache only makes the build slower.
func DefaultCacheDir() string {
	if d := os.Getenv("OSTAL_CACHE"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/cache/ostal"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ostal")
	}
	return filepath.Join(os.TempDir(), "ostal-cache")
}

// loadInputs reads and validates the spec and the lock, and checks that the
// lock still matches the spec.
func (c *Config) loadInputs() (*images.Spec, *images.Lock, error) {
	spec, err := images.Load(c.Spec)
	if err != nil {
		return nil, nil, err
	}
	if err := images.Validate(spec, c.ProvisionDir, nil); err != nil {
		return nil, nil, err
	}
	lock, err := images.ReadLock(c.Lock)
	if err != nil {
		return nil, nil, err
	}
	if err := lock.CheckFresh(spec, ToolPackages); err != nil {
		return nil, nil, err
	}
	return spec, lock, nil
}
