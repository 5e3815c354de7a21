// Package build_test builds the small test image from tests/images with
// the real tools (mmdebstrap, the Debian mirror, QEMU) and checks what a
// user relies on: same inputs give the same bytes, the image boots under
// SeaBIOS and OVMF, bad input and interruptions fail cleanly.
package build_test

import (
	"os"
	"testing"

	"github.com/ostal/ostal/tests/testutil"
)

var (
	provisionDir   = testutil.ProvisionDir
	tinySpec       = testutil.TestSpec("tiny")
	ostal          = testutil.Ostal
	sharedCache    = testutil.SharedCache
	lockedSpec     = testutil.LockedSpec
	build          = testutil.Build
	ostalBinary    = testutil.OstalBinary
	tail           = testutil.Tail
	freshTreeCache = testutil.FreshTreeCache
)

func TestMain(m *testing.M) {
	testutil.RequireRoot(m, "tests/build")
	os.Exit(m.Run())
}
