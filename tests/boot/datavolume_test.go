package boot_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ostal/ostal/tests/checks"
	"github.com/ostal/ostal/tests/harness"
	"github.com/ostal/ostal/tests/testutil"
)

// smallImage builds tests/images/small.yaml (SSH, firewall, TLS, DNS,
// WebDAV) once for this package.
func smallImage(t *testing.T) string {
	t.Helper()
	if images.small == "" {
		spec := testutil.LockedSpec(t, testutil.TestSpec("small"), nil)
		m := testutil.Build(t, spec, testutil.SharedCache(), imageDir)
		images.small = filepath.Join(imageDir, m.Name+".qcow2")
	}
	return images.small
}

// runChecks boots an image with its own checks, in-process.
func runChecks(t *testing.T, o harness.Options, list ...checks.Check) *harness.Report {
	t.Helper()
	reg := &checks.Registry{}
	for _, c := range list {
		reg.Register(c)
	}
	o.Registry, o.ReportDir, o.Progress = reg, t.TempDir(), testutil.LogWriter(t)
	o.ReadyTimeout = 6 * time.Minute
	r, err := harness.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range r.Results {
		t.Logf("%-24s ok=%v %.1fs %s %s", res.Check, res.OK, res.Seconds, strings.Join(res.Notes, "; "), res.Error)
	}
	return r
}

// volumeDigest checksums every file of the data volume but the ones the
// running system may touch (Knot's journal is written while it runs).
const volumeDigest = "cd /srv/data && find . -xdev -type f ! -path './knot/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum"

// unhealthyAfterReboot makes the volume bad, reboots, and expects: SSH
// works, the health report names the reason, the services are down, the
// volume is unchanged; then it repairs the volume and expects health.
func unhealthyAfterReboot(name, spoil, reason, repair string) checks.Check {
	return checks.Check{Name: name, Disruptive: true, Timeout: 15 * time.Minute, Run: func(ctx context.Context, m checks.Machine) error {
		if _, err := m.Run(ctx, spoil); err != nil {
			return fmt.Errorf("spoil the volume: %w", err)
		}
		before, err := m.Run(ctx, "sync; "+volumeDigest)
		if err != nil {
			return err
		}
		if err := m.Reboot(ctx); err != nil {
			return err
		}
		out, err := m.Run(ctx, "/usr/lib/ostal/health")
		if err == nil || !strings.Contains(out, reason) {
			return fmt.Errorf("health should fail saying %q; it said (err %v):\n%s", reason, err, out)
		}
		m.Note("health: %s", firstFailure(out))
		if state, _ := m.Run(ctx, "systemctl is-active knot.service nginx.service"); strings.Contains(state, "active\n") && !strings.Contains(state, "inactive") {
			return fmt.Errorf("services run although the volume is bad:\n%s", state)
		}
		journal, _ := m.Run(ctx, "journalctl -b -u ostal-data.service --no-pager")
		if !strings.Contains(journal, reason) {
			return fmt.Errorf("the journal of ostal-data.service does not say %q:\n%s", reason, journal)
		}
		after, err := m.Run(ctx, volumeDigest)
		if err != nil {
			return err
		}
		if after != before {
			return fmt.Errorf("the volume changed while the image refused it")
		}
		if _, err := m.Run(ctx, repair); err != nil {
			return fmt.Errorf("repair the volume: %w", err)
		}
		if err := m.Reboot(ctx); err != nil {
			return err
		}
		for end := time.Now().Add(5 * time.Minute); ; time.Sleep(3 * time.Second) {
			out, err := m.Run(ctx, "/usr/lib/ostal/health")
			if err == nil {
				return nil
			}
			if time.Now().After(end) {
				return fmt.Errorf("not healthy after the repair:\n%s", out)
			}
		}
	}}
}

// tornSuperblock is the fault a reformat would turn into a loss: 512
// bytes of garbage over ext4's primary superblock, written with the guest
// off (a running kernel would write its own copy back at unmount). The
// guest must keep the services down, leave every byte of the volume as it
// was, and say how to repair it; the repair it names brings the data back
// (the data volume is then mounted in place; the other faults' checks show
// the reboot to health).
func tornSuperblock() checks.Check {
	return checks.Check{Name: "data.torn-superblock", Disruptive: true, Timeout: 20 * time.Minute, Run: func(ctx context.Context, m checks.Machine) error {
		const dev = "/dev/disk/by-id/virtio-ostal-data"
		marker := fmt.Sprintf("written before the torn write %d", time.Now().UnixNano())
		if _, err := m.Run(ctx, "echo '"+marker+"' > /srv/data/marker && sync"); err != nil {
			return err
		}
		saved := filepath.Join(os.TempDir(), fmt.Sprintf("ostal-torn-%d.qcow2", time.Now().UnixNano()))
		defer os.Remove(saved)
		if err := m.PowerCycle(ctx, func(ctx context.Context, vol string) error {
			if out, err := exec.CommandContext(ctx, "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1024 512", vol).CombinedOutput(); err != nil {
				return fmt.Errorf("qemu-io: %v: %s", err, out)
			}
			out, err := exec.CommandContext(ctx, "cp", "--sparse=always", vol, saved).CombinedOutput()
			if err != nil {
				return fmt.Errorf("keep a copy of the damaged volume: %v: %s", err, out)
			}
			return nil
		}); err != nil {
			return err
		}
		const reason = "primary superblock is probably damaged"
		out, err := m.Run(ctx, "/usr/lib/ostal/health")
		if err == nil || !strings.Contains(out, reason) || !strings.Contains(out, "e2fsck -b 32768") {
			return fmt.Errorf("health should fail saying %q and how to repair; it said (err %v):\n%s", reason, err, out)
		}
		m.Note("health: %s", firstFailure(out))
		if state, _ := m.Run(ctx, "systemctl is-active knot.service nginx.service"); strings.Contains(state, "active\n") && !strings.Contains(state, "inactive") {
			return fmt.Errorf("services run although the volume is unreadable:\n%s", state)
		}
		if journal, _ := m.Run(ctx, "journalctl -b --no-pager"); strings.Contains(journal, "making an ext4") || strings.Contains(journal, "new data volume") {
			return fmt.Errorf("the damaged volume was formatted:\n%s", testutil.Tail(journal, 30))
		}
		// Every byte as it was: compared on the host, with the guest off.
		if err := m.PowerCycle(ctx, func(ctx context.Context, vol string) error {
			out, err := exec.CommandContext(ctx, "qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", saved, vol).CombinedOutput()
			if err != nil {
				return fmt.Errorf("the volume changed while the image refused it: %v: %s", err, out)
			}
			return nil
		}); err != nil {
			return err
		}
		// The repair the report names; e2fsck exits 1 when it fixed errors.
		if out, err := m.Run(ctx, "e2fsck -fy -b 32768 "+dev+" >/tmp/e2fsck.log 2>&1; rc=$?; cat /tmp/e2fsck.log; [ $rc -le 1 ]"); err != nil {
			return fmt.Errorf("e2fsck -b 32768: %v\n%s", err, out)
		}
		// The guard now takes the repaired volume, and the data are there
		// (mounted in place: a reboot would show nothing more, and costs a
		// boot of the test's budget).
		if out, err := m.Run(ctx, "systemctl restart ostal-data-volume.service && systemctl start srv-data.mount && cat /srv/data/marker"); err != nil || strings.TrimSpace(out) != marker {
			return fmt.Errorf("the data written before the torn write are not back after the repair: %q, %v", out, err)
		}
		return nil
	}}
}

func TestDataVolumeFaults(t *testing.T) {
	image := smallImage(t)
	// The torn superblock first: it ends on a boot that refused the
	// volume (repaired and mounted in place); the others end on a clean
	// reboot to health, whose console the report judges.
	r := runChecks(t, harness.Options{Image: image},
		tornSuperblock(),
		unhealthyAfterReboot("data.newer-layout", "echo 99 > /srv/data/.ostal-layout",
			"newer than this image", "echo 1 > /srv/data/.ostal-layout"),
		unhealthyAfterReboot("data.full",
			"fallocate -l $(( $(df --output=avail -B1 /srv/data | tail -1) - 4*1024*1024 )) /srv/data/filler",
			"the data volume is full", "rm /srv/data/filler"),
	)
	if !r.OK {
		t.Fatalf("see %s/report.md", r.Dir)
	}
	expectNothingLeft(t)
}

func TestMissingDataVolumeKeepsSSH(t *testing.T) {
	image := smallImage(t)
	missing := checks.Check{Name: "data.missing", Timeout: 5 * time.Minute, Run: func(ctx context.Context, m checks.Machine) error {
		var out string
		var err error
		// ostal-data waits for the device (90 s) before it gives up.
		for end := time.Now().Add(3 * time.Minute); time.Now().Before(end); time.Sleep(3 * time.Second) {
			if out, err = m.Run(ctx, "/usr/lib/ostal/health"); strings.Contains(out, "no data volume") {
				break
			}
		}
		if err == nil || !strings.Contains(out, "no data volume is mounted") {
			return fmt.Errorf("health should say the volume is missing; it said (err %v):\n%s", err, out)
		}
		// SSH works (this check runs over it); its health line only warns
		// that this boot's host keys will not outlive it.
		if strings.Contains(out, "FAIL ssh: sshd") || strings.Contains(out, "FAIL firewall") {
			return fmt.Errorf("ssh or the firewall needs the data volume:\n%s", out)
		}
		if !strings.Contains(out, "FAIL ssh: the host keys are not on the data volume") {
			return fmt.Errorf("the health report does not warn that the host keys are for this boot only:\n%s", out)
		}
		m.Note("health: %s", firstFailure(out))
		rootWrites, _ := m.Run(ctx, "find /var/lib/knot /var/lib/ostal/files -mindepth 1 2>/dev/null")
		if strings.TrimSpace(rootWrites) != "" {
			return fmt.Errorf("services wrote state to the root filesystem:\n%s", rootWrites)
		}
		return nil
	}}
	r := runChecks(t, harness.Options{Image: image, NoDataVolume: true, NoHealthWait: true}, missing)
	if len(r.Results) != 1 || !r.Results[0].OK {
		t.Fatalf("see %s/report.md", r.Dir)
	}
	expectNothingLeft(t)
}

// firstFailure is the first FAIL line of a health report.
func firstFailure(report string) string {
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "FAIL") {
			return l
		}
	}
	return strings.TrimSpace(report)
}
