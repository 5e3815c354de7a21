package packerplugin

import (
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/ostal/ostal/builders"
)

// blockConfig is the builder block as config.Decode fills it: Packer's SDK
// zeroes its target before decoding HCL2, so the version and commit are
// set after, and it asks the target for the flat form below to check the
// block's values against (what packer-sdc generates for other plugins;
// five strings do not need a generator).
type blockConfig struct {
	builders.Config `mapstructure:",squash"`
}

func (*blockConfig) FlatMapstructure() interface{ HCL2Spec() map[string]hcldec.Spec } {
	return new(flatConfig)
}

// flatConfig is the block with every attribute optional (a pointer) and
// named for cty, as the SDK's decoder wants it.
type flatConfig struct {
	Spec         *string `mapstructure:"spec" cty:"spec" hcl:"spec"`
	Lock         *string `mapstructure:"lock" cty:"lock" hcl:"lock"`
	ProvisionDir *string `mapstructure:"provision_dir" cty:"provision_dir" hcl:"provision_dir"`
	OutputDir    *string `mapstructure:"output_dir" cty:"output_dir" hcl:"output_dir"`
	CacheDir     *string `mapstructure:"cache_dir" cty:"cache_dir" hcl:"cache_dir"`
}

func (*flatConfig) HCL2Spec() map[string]hcldec.Spec { return blockSpec() }

// blockSpec is the builder block's schema: builders.Config's fields by
// their mapstructure names, every one a string, only spec required.
func blockSpec() hcldec.ObjectSpec {
	attr := func(name string, required bool) hcldec.Spec {
		return &hcldec.AttrSpec{Name: name, Type: cty.String, Required: required}
	}
	return hcldec.ObjectSpec{
		"spec": attr("spec", true), "lock": attr("lock", false), "provision_dir": attr("provision_dir", false),
		"output_dir": attr("output_dir", false), "cache_dir": attr("cache_dir", false),
	}
}
