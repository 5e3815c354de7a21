package deploy_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ostal/ostal/tests/testutil"
)

// Through qemu:///system: a first deployment, a swap to a second build
// (data kept, a second operator refused meanwhile), then a swap to an
// image that boots but never gets healthy and changes the data as it
// starts: the deployer, stopped right after restoring the data, leaves
// data volumes identical to what they were when the guest stopped, and
// the next run finishes the rollback; the old image serves again.
func TestSwapKeepsDataAndRollsBack(t *testing.T) {
	buildImages(t)
	e := newEnv(t, "local", "qemu:///system")
	e.Timeout = "120s"
	env := e.write(t, t.TempDir())

	mustOstal(t, "deploy", "swap", env, images.good, "--now")
	s := status(t, env)
	if !s.Healthy || s.Current == nil || s.Current.Digest != digestOf(t, images.good) {
		t.Fatalf("after the first deployment: %+v", s)
	}
	mustGuestRun(t, e, "echo kept > /srv/data/marker")
	hostKey := mustGuestRun(t, e, "cat /srv/data/ssh/ssh_host_ed25519_key.pub")

	// A second operator's swap while this one runs is refused, naming
	// who holds the domain.
	bin := testutil.OstalBinary(t)
	first := exec.Command(bin, "deploy", "swap", env, images.next, "--now")
	first.Dir = testutil.RepoRoot
	var firstOut strings.Builder
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); status(t, env).Swapping == nil; time.Sleep(500 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatal("the first swap never started")
		}
	}
	code, _, errOut := testutil.Ostal(t, "deploy", "swap", env, images.good, "--now")
	if code != 1 || !strings.Contains(errOut, "has been swapping this domain since") {
		t.Errorf("a concurrent swap was not refused with who holds the lock: exit %d\n%s", code, errOut)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("the first swap failed: %v\n%s", err, firstOut.String())
	}
	if got := mustGuestRun(t, e, "cat /srv/data/marker; cat /srv/data/ssh/ssh_host_ed25519_key.pub; cat /etc/ostal-test-variant"); !strings.HasPrefix(got, "kept\n"+hostKey) {
		t.Errorf("after the swap the data volume holds %q", got)
	}

	// The unhealthy image: the swap stops right after the rollback has
	// restored the data, before the old image starts again.
	stoppedAfter(t, bin, "rollback-data", env, images.unhealthy, "--now")
	s = status(t, env)
	if s.Swapping == nil || s.Swapping.Step != "rollback" || s.Swapping.Snapshot == "" {
		t.Fatalf("the journal does not show the rollback in progress: %+v", s.Swapping)
	}
	data := filepath.Join(poolPath, e.Domain+"-ostal-data")
	before, after := rawDigest(t, data, s.Swapping.Snapshot), rawDigest(t, data, "")
	if before != after {
		t.Errorf("after the rollback the data volume (sha256 %s) differs from before the swap (%s)", after, before)
	}

	// The next run finishes the rollback; the old image serves again.
	mustOstal(t, "deploy", "swap", env, images.next, "--now")
	s = status(t, env)
	if !s.Healthy || s.Current.Digest != digestOf(t, images.next) || s.Swapping != nil || s.Lock != nil {
		t.Fatalf("after the rollback: %+v", s)
	}
	if got := mustGuestRun(t, e, "cat /srv/data/marker; ls /srv/data/scribble 2>&1 || true"); !strings.HasPrefix(got, "kept\n") || !strings.Contains(got, "No such file") {
		t.Errorf("after the rollback the data volume holds %q", got)
	}
	h := history(t, env)
	var results []string
	for _, sw := range h {
		results = append(results, string(sw.Result))
	}
	if strings.Join(results, ",") != "ok,ok,rolled back" {
		t.Errorf("history: %v", results)
	}
	if last := h[len(h)-1]; !strings.Contains(last.Detail, "dns") || last.Downtime <= 0 {
		t.Errorf("the rollback's history line does not say why: %+v", last)
	}
}

// rawDigest is the sha256 of what the guest sees on a qcow2 volume, now
// or in one of its internal snapshots.
func rawDigest(t *testing.T, volume, snapshot string) string {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "data.raw")
	args := []string{"convert", "-U", "-f", "qcow2", "-O", "raw"}
	if snapshot != "" {
		args = append(args, "-l", "snapshot.name="+snapshot)
	}
	if out, err := exec.Command("qemu-img", append(args, volume, raw)...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v\n%s", err, out)
	}
	return fileDigest(t, raw)
}
