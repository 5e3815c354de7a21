package deploy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ostal/ostal/deploy"
	"github.com/ostal/ostal/tests/testutil"
)

// Through qemu+ssh:// to an sshd on loopback: a first deployment, then a
// swap that is stopped right after each of its steps in turn, as if the
// deployer were killed there, each run finishing or undoing what the last
// one left; the last run finishes it: the new image, healthy, the data
// kept, nothing left locked. Then a swap to an image that does not boot
// rolls back by itself.
func TestSwapThroughSSHConvergesAfterEachStep(t *testing.T) {
	buildImages(t)
	sshd := startSSHD(t)
	e := newEnv(t, "ssh", sshd.URI(""))
	e.Timeout = "120s"
	env := e.write(t, t.TempDir())
	bin := testutil.OstalBinary(t)

	mustOstal(t, "deploy", "push", env, images.good)
	mustOstal(t, "deploy", "swap", env, images.good, "--now")
	mustGuestRun(t, e, "echo kept > /srv/data/marker")

	for _, step := range []deploy.Step{deploy.StepLock, deploy.StepOverlay, deploy.StepStop, deploy.StepSnapshot,
		deploy.StepDefine, deploy.StepStart, deploy.StepHealth} {
		stoppedAfter(t, bin, string(step), env, images.next, "--now")
		if s := status(t, env); s.Swapping == nil || s.Swapping.Step != step || s.Current.Digest != digestOf(t, images.good) {
			t.Fatalf("stopped after %s, the record says %+v", step, s)
		}
	}
	mustOstal(t, "deploy", "swap", env, images.next, "--now")
	s := status(t, env)
	if !s.Healthy || s.Current.Digest != digestOf(t, images.next) || s.Swapping != nil || s.Lock != nil {
		t.Fatalf("after a swap stopped after every step and run again: %+v", s)
	}
	if got := mustGuestRun(t, e, "cat /srv/data/marker"); got != "kept\n" {
		t.Fatalf("after the swap, the marker reads %q", got)
	}

	code, _ := ostal(t, "deploy", "swap", env, images.broken, "--now")
	s = status(t, env)
	if code != 1 || !s.Healthy || s.Current.Digest != digestOf(t, images.next) {
		t.Fatalf("a swap to an image that does not boot: exit %d, then %+v", code, s)
	}
	h := history(t, env)
	var results []string
	for _, sw := range h {
		results = append(results, string(sw.Result))
	}
	// Stopped before the guest was, a swap is undone and the next run
	// starts its own; stopped after, it is finished.
	if strings.Join(results, ",") != "ok,undone,undone,ok,rolled back" || !strings.Contains(h[4].Detail, "SSH") {
		t.Errorf("history: %+v", h)
	}
	if h[3].Downtime <= 0 || h[3].From != digestOf(t, images.good) || h[3].To != digestOf(t, images.next) {
		t.Errorf("the interrupted swap's history line: %+v", h[3])
	}

	// gc keeps the running and the previous image whatever --keep says,
	// and never a data volume.
	var gc deploy.GCResult
	if err := json.Unmarshal([]byte(mustOstal(t, "deploy", "gc", env, "--keep", "0", "--json")), &gc); err != nil {
		t.Fatal(err)
	}
	removed := strings.Join(gc.Removed, " ")
	for _, keep := range []string{digestOf(t, images.next), digestOf(t, images.good), "ostal-data"} {
		if strings.Contains(removed, keep) {
			t.Errorf("gc removed %s: %v", keep, gc.Removed)
		}
	}
	if !strings.Contains(removed, digestOf(t, images.broken)) {
		t.Errorf("gc kept the image that was never current: %+v", gc)
	}
	if s := status(t, env); !s.Healthy {
		t.Errorf("after gc: %+v", s)
	}
}
