// Package buildinfo is the ostal commit a binary was built from, set by
// the Makefile (-ldflags -X) for both ostal and packer-plugin-ostal, so
// that an image's manifest names the code that made it whichever of the
// two built it.
package buildinfo

var (
	// Version is `git describe` of the tree the binary was built from.
	Version = "dev"
	// Commit is that tree's HEAD.
	Commit = "unknown"
)
