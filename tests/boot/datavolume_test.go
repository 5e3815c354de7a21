package boot_test

import (
	"context"
	"fmt"
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

func TestDataVolumeFaults(t *testing.T) {
	image := smallImage(t)
	r := runChecks(t, harness.Options{Image: image},
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
		// ostal-data waits for the device (30 s) before it gives up.
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
