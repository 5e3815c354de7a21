package builders

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/zclconf/go-cty/cty"

	"github.com/ostal/ostal/images"
)

// Config is what one build needs; as a Packer plugin it is the builder
// block, from the ostal command line it comes from flags.
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

// HCL2Spec is the builder block's schema for Packer.
func (c *Config) HCL2Spec() hcldec.ObjectSpec {
	attr := func(name string, required bool) hcldec.Spec {
		return &hcldec.AttrSpec{Name: name, Type: cty.String, Required: required}
	}
	return hcldec.ObjectSpec{
		"spec": attr("spec", true), "lock": attr("lock", false), "provision_dir": attr("provision_dir", false),
		"output_dir": attr("output_dir", false), "cache_dir": attr("cache_dir", false),
	}
}

// Prepare decodes raw configuration and applies the defaults.
func (c *Config) Prepare(raws ...interface{}) error {
	if err := config.Decode(c, &config.DecodeOpts{}, raws...); err != nil {
		return fmt.Errorf("builder configuration: %w", err)
	}
	c.ApplyDefaults()
	if c.Spec == "" {
		return fmt.Errorf("builder configuration: spec: missing; name the image spec, e.g. images/utzqanil.yaml")
	}
	return nil
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
