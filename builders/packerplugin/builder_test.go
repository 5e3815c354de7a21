package packerplugin

import (
	"reflect"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/ostal/ostal/builders"
)

// Every field of builders.Config that a template may set is in the block's
// schema, and nothing else is.
func TestConfigSpecMatchesConfig(t *testing.T) {
	var want []string
	ct := reflect.TypeOf(builders.Config{})
	for i := 0; i < ct.NumField(); i++ {
		if tag := ct.Field(i).Tag.Get("mapstructure"); tag != "" && tag != "-" {
			want = append(want, tag)
		}
	}
	var got []string
	for name := range New("v", "c").ConfigSpec() {
		got = append(got, name)
	}
	sort.Strings(want)
	sort.Strings(got)
	assert.Equal(t, want, got)
}

func TestPrepare(t *testing.T) {
	for _, tc := range []struct {
		name    string
		raw     map[string]interface{}
		wantErr string
	}{
		{"no spec", map[string]interface{}{"output_dir": "out"}, "spec: missing"},
		{"a spec that is not there, with the keys Packer adds",
			map[string]interface{}{"spec": "nowhere/x.yaml", "packer_build_name": "image", "packer_builder_type": "ostal"},
			"nowhere/x.yaml"},
		{"a key the builder does not know", map[string]interface{}{"spec": "x.yaml", "outptu_dir": "out"}, "outptu_dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New("v1", "abc")
			_, _, err := b.Prepare(tc.raw)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// Packer sends the block as a cty value (HCL2) or, from a JSON template,
// as a map: both decode alike.
func TestPrepareDecodesAndDefaults(t *testing.T) {
	str := cty.StringVal
	null := cty.NullVal(cty.String)
	for name, raw := range map[string]interface{}{
		"map": map[string]interface{}{"spec": "images/x.yaml", "output_dir": "out", "cache_dir": ""},
		"cty": cty.ObjectVal(map[string]cty.Value{"spec": str("images/x.yaml"), "output_dir": str("out"),
			"cache_dir": str(""), "lock": null, "provision_dir": null}),
	} {
		t.Run(name, func(t *testing.T) {
			b := New("v1", "abc")
			b.Prepare(raw, map[string]interface{}{"packer_build_name": "image"})
			c := b.b.Config
			assert.Equal(t, "images/x.yaml", c.Spec)
			assert.Equal(t, "images/x.lock", c.Lock, "the lock beside the spec")
			assert.Equal(t, "out", c.OutputDir)
			assert.Equal(t, "provision", c.ProvisionDir)
			assert.Equal(t, builders.DefaultCacheDir(), c.CacheDir, "an empty cache_dir is the default cache")
			assert.Equal(t, "v1", c.Version, "the plugin's version and commit reach the manifest")
			assert.Equal(t, "abc", c.Commit)
		})
	}
}
