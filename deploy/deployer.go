// Package deploy ships built images to a libvirt host and swaps them in:
// content-named OS volumes, data volumes created once and never touched
// again, a swap journal and history kept in the domain's own metadata, and
// a rollback by itself when the new image is not healthy.
package deploy

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/ostal/ostal/internal/virt"
)

// Options are what a caller may change about a Deployer.
type Options struct {
	// Out receives progress and what was done; nil discards it.
	Out io.Writer
	// WrapConn wraps the connection to libvirt (tests' dropped links).
	WrapConn func(net.Conn) net.Conn
	// StopAfter, when it names a step, makes the deployer exit right after
	// that step as if killed: the tests' way to interrupt a swap anywhere.
	StopAfter Step
	// Exit is how StopAfter exits; os.Exit when nil.
	Exit func(code int)
}

// Deployer is one connection to one environment's libvirt.
type Deployer struct {
	Env  *Environment
	host Host
	opts Options
	who  string
	// hostname and pid are this run's, as a lock names them.
	hostname string
	pid      int
	// machine and token identify this run in a lock.
	machine, token string
	// mu orders the writes of the record: the steps' and the heartbeat's.
	mu sync.Mutex
	// reverted: a snapshot was reverted since the record was last
	// written (see stillHolder).
	reverted atomic.Bool

	// health waits until the guest running rel is healthy, within the
	// environment's health timeout: waitHealthy, through SSH.
	health func(ctx context.Context, st *State, rel Release) error
	// openPublic opens the public ports of the running candidate of
	// swap (provision/firewall's public-ports), through SSH.
	openPublic func(ctx context.Context, st *State, rel Release, swap string) error
	clock      clock
	// alive tells whether a process of this machine still runs.
	alive func(pid int) bool
	// beatEvery is how often a swap renews its lock.
	beatEvery time.Duration
}

// Connect reaches the environment's libvirt and its pool.
func Connect(ctx context.Context, env *Environment, o Options) (*Deployer, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := virt.DialWith(dctx, env.URI, o.WrapConn)
	if err != nil {
		return nil, fmt.Errorf("%s: uri: %w", env.Path, err)
	}
	var pool libvirt.StoragePool
	if env.PoolPath != "" {
		pool, err = conn.EnsurePool(ctx, env.Pool, env.PoolPath)
	} else {
		pool, err = conn.LookupPool(ctx, env.Pool)
	}
	if virt.IsNotFound(err) {
		err = fmt.Errorf("%s: pool: there is no storage pool %q on %s; name an existing pool (virsh pool-list), or set pool_path to let ostal create it", env.Path, env.Pool, env.URI)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	d := newDeployer(env, virtHost{Conn: conn, pool: pool}, o)
	d.hostname, _ = os.Hostname()
	d.pid = os.Getpid()
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		d.machine = strings.TrimSpace(string(b))
	}
	d.who = d.hostname
	if u, err := user.Current(); err == nil {
		d.who = u.Username + "@" + d.hostname
	}
	return d, nil
}

// newDeployer is a deployer on host, with the real health wait, clock
// and process table.
func newDeployer(env *Environment, host Host, o Options) *Deployer {
	if o.Out == nil {
		o.Out = io.Discard
	}
	d := &Deployer{Env: env, opts: o, clock: realClock{}, alive: processAlive, beatEvery: beatEvery}
	d.host = revertNoting{Host: host, reverted: &d.reverted}
	d.health = d.waitHealthy
	d.openPublic = d.openPublicPorts
	d.token = newSwapID(d.clock.Now())
	return d
}

// Close ends the connection.
func (d *Deployer) Close() error { return d.host.Close() }

func (d *Deployer) say(format string, args ...any) {
	fmt.Fprintf(d.opts.Out, format+"\n", args...)
}

// stopHook ends the process after the named step when the test hook asks.
func (d *Deployer) stopHook(step Step) {
	if d.opts.StopAfter != step {
		return
	}
	d.say("stopping after step %s (test hook)", step)
	exit := d.opts.Exit
	if exit == nil {
		exit = os.Exit
	}
	exit(3)
}

// since is how long ago t was, by the deployer's clock.
func (d *Deployer) since(t time.Time) time.Duration { return d.clock.Now().Sub(t) }
