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
	conn *virt.Conn
	pool libvirt.StoragePool
	opts Options
	who  string
	host string
	pid  int
	// machine and token identify this run in a lock.
	machine, token string
	// mu orders the writes of the record: the steps' and the heartbeat's.
	mu sync.Mutex
}

// Connect reaches the environment's libvirt and its pool.
func Connect(ctx context.Context, env *Environment, o Options) (*Deployer, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := virt.DialWith(dctx, env.URI, o.WrapConn)
	if err != nil {
		return nil, fmt.Errorf("%s: uri: %w", env.Path, err)
	}
	d := &Deployer{Env: env, conn: conn, opts: o}
	if env.PoolPath != "" {
		d.pool, err = conn.EnsurePool(ctx, env.Pool, env.PoolPath)
	} else {
		d.pool, err = conn.LookupPool(ctx, env.Pool)
	}
	if virt.IsNotFound(err) {
		err = fmt.Errorf("%s: pool: there is no storage pool %q on %s; name an existing pool (virsh pool-list), or set pool_path to let ostal create it", env.Path, env.Pool, env.URI)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	d.host, _ = os.Hostname()
	d.pid = os.Getpid()
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		d.machine = strings.TrimSpace(string(b))
	}
	d.token = newSwapID()
	d.who = d.host
	if u, err := user.Current(); err == nil {
		d.who = u.Username + "@" + d.host
	}
	return d, nil
}

// Close ends the connection.
func (d *Deployer) Close() error { return d.conn.Close() }

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
