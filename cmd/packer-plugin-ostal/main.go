// Command packer-plugin-ostal runs ostal's image builder under Packer:
// the builder "ostal" of a template builds the same qcow2, byte for byte,
// as `ostal build` of the same spec and lock with the same cache
// (images/utzqanil.pkr.hcl).
//
// Packer starts it; a user installs it, with Packer 1.10 or later, by
//
//	packer plugins install --path build/bin/packer-plugin-ostal github.com/ostal/ostal
//
// or, with Packer 1.9, by putting it in a folder on PACKER_PLUGIN_PATH.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"
	"github.com/hashicorp/packer-plugin-sdk/version"

	"github.com/ostal/ostal/builders/packerplugin"
	"github.com/ostal/ostal/internal/buildinfo"
)

// pluginVersion is the plugin protocol's idea of ostal's version, which
// must be semantic; the manifest of each image names the exact commit.
const pluginVersion = "0.1.0"

func main() {
	set := plugin.NewSet()
	set.RegisterBuilder(plugin.DEFAULT_NAME, packerplugin.New(buildinfo.Version, buildinfo.Commit))
	set.SetVersion(version.NewPluginVersion(pluginVersion, "", ""))
	if err := set.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "packer-plugin-ostal:", err)
		os.Exit(1)
	}
}
