package deploy_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ostal/ostal/tests/testutil"
)

// Through qemu:///system: a first deployment, a swap to a second build
// (data kept; two deployers started together, one refused at the lock
// naming the other), then a swap to an image that boots but never gets
// healthy and changes the data as it starts: the deployer, stopped right
// after restoring the data, leaves data volumes identical to what they
// were when the guest stopped, and the next run finishes the rollback;
// the old image serves again. Mail from outside (the test inbox on port
// 25) is taken by each committed image; the unhealthy candidate takes
// none during its health wait, and after the rollback every mail the
// public was told was accepted is there.
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
	mustDeliver(t, e, "mail to the first deployment")
	hostKey := mustGuestRun(t, e, "cat /srv/data/ssh/ssh_host_ed25519_key.pub")

	// Two deployers started together on the domain: exactly one swaps,
	// the other is refused at the lock, before any boot, naming who
	// holds it. The image is pushed first: the race is for the lock.
	bin := testutil.OstalBinary(t)
	mustOstal(t, "deploy", "push", env, images.next)
	type run struct {
		cmd  *exec.Cmd
		out  strings.Builder
		took time.Duration
		err  error
	}
	runs := []*run{{}, {}}
	for _, r := range runs {
		r.cmd = exec.Command(bin, "deploy", "swap", env, images.next, "--now")
		r.cmd.Dir = testutil.RepoRoot
		r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	}
	started := time.Now()
	for _, r := range runs {
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan *run)
	for _, r := range runs {
		go func() { r.err = r.cmd.Wait(); r.took = time.Since(started); done <- r }()
	}
	loser, winner := <-done, <-done
	if loser.err == nil {
		loser, winner = winner, loser
	}
	if winner.err != nil || loser.err == nil {
		t.Fatalf("two swaps started together: want one done and one refused, got %v and %v\n%s\n%s", runs[0].err, runs[1].err, runs[0].out.String(), runs[1].out.String())
	}
	holder := fmt.Sprintf("(pid %d on ", winner.cmd.Process.Pid)
	if out := loser.out.String(); !strings.Contains(out, "has been swapping this domain since") || !strings.Contains(out, holder) ||
		strings.Contains(out, "the tools were down") {
		t.Errorf("the refused swap does not name the holder %s:\n%s", holder, out)
	}
	if loser.took > 30*time.Second {
		t.Errorf("the refused swap took %s: it should stop at the lock", loser.took.Round(time.Second))
	}
	if n := len(history(t, env)); n != 2 {
		t.Errorf("the history has %d swaps, want 2 (the first deployment and one swap)", n)
	}
	if got := mustGuestRun(t, e, "cat /srv/data/marker; cat /srv/data/ssh/ssh_host_ed25519_key.pub; cat /etc/ostal-test-variant"); !strings.HasPrefix(got, "kept\n"+hostKey) {
		t.Errorf("after the swap the data volume holds %q", got)
	}
	mustDeliver(t, e, "mail to the committed swap")

	// The unhealthy image: the swap stops right after the rollback has
	// restored the data, before the old image starts again.
	pub := startPublic(t, e)
	stoppedAfter(t, bin, "rollback-data", env, images.unhealthy, "--now")
	pub.end()
	if pub.whileCandidate == 0 {
		t.Errorf("the unhealthy candidate was never seen up with its inbox listening: the test did not try the public's way in")
	}
	if len(pub.accepted) > 0 {
		t.Errorf("during the health wait of the candidate, the public delivered %d mails (%q …): a rollback drops them", len(pub.accepted), pub.accepted[0])
	}
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
	inbox := mustGuestRun(t, e, "cat /srv/data/inbox/m.* 2>/dev/null || true")
	for _, line := range append([]string{"mail to the first deployment", "mail to the committed swap"}, pub.accepted...) {
		if !strings.Contains(inbox, line+"\n") {
			t.Errorf("after the rollback the inbox lacks %q, which the public was told was accepted; it holds:\n%s", line, inbox)
		}
	}
	mustDeliver(t, e, "mail after the rollback")
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
