// Package harness boots an image under libvirt and runs named checks
// against it: `ostal test` and `make boottest` use it. The image file is
// never touched: it is copied into a storage pool, and the domain boots
// from an overlay on that copy with fresh data volumes. Everything a run
// creates carries the name prefix ostal-test- and is removed at the end,
// or by the next run if this one was killed.
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ostal/ostal/internal/virt"
	"github.com/ostal/ostal/tests/checks"
)

// Prefix starts the name of every domain and volume a test run creates.
const Prefix = "ostal-test-"

// Options configure one test run.
type Options struct {
	URI       string
	Image     string
	SwapImage string   // a second image for the persistence check's swap
	Checks    []string // globs; all checks when empty
	Keep      bool     // leave domain and volumes for inspection
	Firmware  string   // "bios" (SeaBIOS) or "uefi" (OVMF)
	Accel     string   // "auto" probes KVM by booting; "kvm" or "qemu" force one
	Pool      string
	PoolPath  string
	ReportDir string
	MemoryMiB int // 0: 1 GiB, or 2 GiB for an image with services
	VCPUs     int
	DataMiB   int
	// NoDataVolume boots without a data volume (the missing-volume fault).
	NoDataVolume bool
	// NoHealthWait runs the checks as soon as the guest is ready, without
	// waiting for its services to report healthy (faults expect them not to).
	NoHealthWait bool
	// Forwards are guest TCP ports to reach from the host besides 22.
	Forwards     []int
	ReadyTimeout time.Duration
	Registry     *checks.Registry
	Progress     io.Writer
}

// ApplyDefaults fills what the caller left empty.
func (o *Options) ApplyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.URI, virt.DefaultURI)
	def(&o.Firmware, "bios")
	def(&o.Accel, "auto")
	def(&o.Pool, "ostal-test")
	def(&o.PoolPath, "/var/lib/ostal/test-pool")
	def(&o.ReportDir, "build/reports")
	if o.VCPUs == 0 {
		o.VCPUs = 2
	}
	if o.DataMiB == 0 {
		o.DataMiB = 1024
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 5 * time.Minute
	}
	if o.Registry == nil {
		o.Registry = checks.Default
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Run boots the image, runs the checks and writes the report. The error
// is for a run that could not happen (bad image, libvirt down); failed
// checks are in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.ApplyDefaults()
	selected, err := o.Registry.Select(o.Checks)
	if err != nil {
		return nil, err
	}
	for _, img := range []string{o.Image, o.SwapImage} {
		if img != "" {
			if err := checkQcow2(img); err != nil {
				return nil, err
			}
		}
	}
	r := &Report{Image: o.Image, URI: o.URI, Firmware: o.Firmware, Started: time.Now().UTC()}
	if err := os.MkdirAll(o.ReportDir, 0o755); err != nil {
		return nil, fmt.Errorf("create report folder: %w", err)
	}
	// One folder a run, named by its start; runs started in the same
	// second get a suffix.
	r.Dir = filepath.Join(o.ReportDir, r.Started.Format("20060102-150405"))
	for n := 2; ; n++ {
		err := os.Mkdir(r.Dir, 0o755)
		if err == nil {
			break
		}
		if !os.IsExist(err) {
			return nil, fmt.Errorf("create report folder: %w", err)
		}
		r.Dir = filepath.Join(o.ReportDir, fmt.Sprintf("%s-%d", r.Started.Format("20060102-150405"), n))
	}
	say := func(format string, args ...any) { fmt.Fprintf(o.Progress, format+"\n", args...) }
	conn, err := virt.Dial(ctx, o.URI)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	run, err := newRun(ctx, conn, o, r.Dir, say)
	if err != nil {
		return nil, err
	}
	defer func() {
		if o.Keep {
			say("kept domain %s and its volumes in pool %s (--keep)", run.guest.spec.Name, o.Pool)
			return
		}
		// Clean up even when ctx was cancelled (Ctrl-C), on a connection
		// of its own: cancellation closes the run's connection.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		clean, err := virt.Dial(cctx, o.URI)
		if err == nil {
			defer clean.Close()
			run.conn, run.guest.conn = clean, clean
			err = run.remove(cctx)
		}
		if err != nil {
			say("cleaning up: %v", err)
		}
	}()
	if o.Keep {
		run.keepAccess()
	}
	r.ImageSHA256 = run.imageDigest
	bootErr := run.boot(ctx)
	r.Accel = run.guest.spec.Accel
	r.ReadyAfter = run.guest.ready.Seconds()
	if bootErr != nil {
		// sshd may answer although the guest never said it was ready.
		run.saveJournal(ctx)
		r.BootError = bootErr.Error()
		r.finish(run.guest.Console())
		return r, r.write()
	}
	say("%s is ready after %.1f s (%s, %s)", o.Image, r.ReadyAfter, r.Accel, o.Firmware)
	if len(run.services) > 0 && !o.NoHealthWait {
		r.ServicesHealthyAfter, r.Health = run.waitHealthy(ctx)
	}
	run.before(ctx, selected)
	journalSaved := false
	for _, c := range selected {
		if c.Disruptive && !journalSaved {
			run.saveJournal(ctx)
			r.Screenshots = run.screenshots(ctx)
			journalSaved = true
		}
		r.Results = append(r.Results, run.check(ctx, c))
		if ctx.Err() != nil {
			break
		}
	}
	if !journalSaved {
		run.saveJournal(ctx)
		r.Screenshots = run.screenshots(ctx)
	}
	r.finish(run.guest.Console())
	return r, r.write()
}

func checkQcow2(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("image %s: %w (build one with `make image`)", path, err)
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != "QFI\xfb" {
		return fmt.Errorf("image %s is not a qcow2 file: pass the .qcow2 that `ostal build` wrote", path)
	}
	return nil
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// skipped is the result of a check that needs a service the image lacks
// (dav.calendar on an image without dav), as its Services declare: it
// has nothing to check there.
func skipped(c checks.Check, services []string) (Result, bool) {
	missing := c.MissingServices(services)
	if len(missing) == 0 {
		return Result{}, false
	}
	note := "the image has no " + strings.Join(missing, " or ") + " service"
	return Result{Check: c.Name, OK: true, Skipped: true, Notes: []string{note}}, true
}

// before runs the Before of the selected checks that have one, before
// any check runs (no-trace notes what the public sees); a failure is the
// check's to report when it runs, and shows in the progress meanwhile.
func (r *run) before(ctx context.Context, selected []checks.Check) {
	for _, c := range selected {
		if _, skip := skipped(c, r.services); skip || c.Before == nil {
			continue
		}
		timeout := c.Timeout
		if timeout == 0 {
			timeout = time.Minute
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		if err := c.Before(cctx, r.guest); err != nil {
			r.say("check %s: before the checks: %v", c.Name, err)
		}
		cancel()
	}
}

// check runs one check with its own deadline.
func (r *run) check(ctx context.Context, c checks.Check) Result {
	if res, skip := skipped(c, r.services); skip {
		r.say("check %s skipped: %s", c.Name, res.Notes[0])
		return res
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.say("check %s ...", c.Name)
	start := time.Now()
	err := c.Run(cctx, r.guest)
	res := Result{Check: c.Name, Seconds: time.Since(start).Seconds(), Notes: r.guest.takeNotes(), OK: err == nil, Disruptive: c.Disruptive}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("did not finish within %s: %w", timeout, err)
	}
	if err != nil {
		res.Error = err.Error()
		r.say("check %s FAILED after %.1f s: %v", c.Name, res.Seconds, err)
	} else {
		r.say("check %s ok (%.1f s)", c.Name, res.Seconds)
	}
	return res
}
