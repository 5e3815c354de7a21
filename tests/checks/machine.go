package checks

import (
	"context"
	"crypto/x509"
	"net"
	"time"
)

// Machine is what a check sees of a booted guest. The boot test's local
// guest and the deployer's remote one both implement it.
type Machine interface {
	// Name is the guest's libvirt domain name.
	Name() string
	// Addr is the host address ("127.0.0.1:40022") that reaches guestPort.
	Addr(guestPort int) (string, error)
	// DialUDP is a datagram connection from the host to the guest's UDP
	// port (a net.PacketConn too).
	DialUDP(ctx context.Context, guestPort int) (net.Conn, error)
	// Domain is the DNS domain the image serves (the spec's domain).
	Domain() string
	// TLSRoots are the roots the guest's certificates must chain to: the
	// test ACME CA in a boot test; nil means the system's roots.
	TLSRoots() *x509.CertPool
	// DialGuest connects, through the admin's SSH session, to an address
	// as the guest itself sees it ("127.0.0.1:8001"): how an admin
	// reaches what must not be open to the world.
	DialGuest(ctx context.Context, addr string) (net.Conn, error)
	// Run runs a shell command as root over SSH with the admin key and
	// returns its standard output.
	Run(ctx context.Context, command string) (string, error)
	// AdminKey is the private key, in OpenSSH PEM form, of the test admin.
	AdminKey() []byte
	// Console is the serial console's output so far.
	Console() string
	// ImagePath is the image file the machine booted from.
	ImagePath() string
	// ReadyAfter is how long the guest took from start to reporting ready.
	ReadyAfter() time.Duration
	// Reboot restarts the guest and waits until it reports ready again.
	Reboot(ctx context.Context) error
	// SwapImage is a second image (another digest) to swap to, or "".
	SwapImage() string
	// Swap boots another image with the same data volumes.
	Swap(ctx context.Context, image string) error
	// PowerCycle powers the guest off (ACPI), runs offline with the host
	// path of its data volume (a qcow2 file, for qemu-io or qemu-img:
	// faults a running guest would undo, such as a torn superblock), then
	// boots it again and waits until it reports ready.
	PowerCycle(ctx context.Context, offline func(ctx context.Context, dataVolume string) error) error
	// Shutdown asks the guest to power off (ACPI) and waits for it.
	Shutdown(ctx context.Context) (time.Duration, error)
	// Note adds a line to the running check's result in the report.
	Note(format string, args ...any)
}
