package deploy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ostal/ostal/deploy"
	"github.com/ostal/ostal/tests/testutil"
)

// Through qemu+ssh:// to an sshd on loopback: a first deployment, then a
// swap that is stopped right after the guest stopped, as if the deployer
// were killed there, and again right after the new image started; the
// next run finishes it: the new image, healthy, the data kept, nothing
// left locked. What happens after every other step, and every rollback
// branch, is table-tested against a fake host (deploy/swap_test.go);
// this is the real thing through SSH, twice interrupted.
func TestSwapThroughSSHFinishesAnInterruptedSwap(t *testing.T) {
	buildImages(t)
	sshd := startSSHD(t)
	e := newEnv(t, "ssh", sshd.URI(""))
	e.Timeout = "120s"
	env := e.write(t, t.TempDir())
	bin := testutil.OstalBinary(t)

	mustOstal(t, "deploy", "push", env, images.good)
	mustOstal(t, "deploy", "swap", env, images.good, "--now")
	mustGuestRun(t, e, "echo kept > /srv/data/marker")

	for _, step := range []deploy.Step{deploy.StepStop, deploy.StepStart} {
		stoppedAfter(t, bin, string(step), env, images.next, "--now")
		if s := status(t, env); s.Swapping == nil || s.Swapping.Step != step || s.Current.Digest != digestOf(t, images.good) {
			t.Fatalf("stopped after %s, the record says %+v", step, s)
		}
	}
	mustOstal(t, "deploy", "swap", env, images.next, "--now")
	s := status(t, env)
	if !s.Healthy || s.Current.Digest != digestOf(t, images.next) || s.Swapping != nil || s.Lock != nil {
		t.Fatalf("after a swap stopped twice and run again: %+v", s)
	}
	if got := mustGuestRun(t, e, "cat /srv/data/marker"); got != "kept\n" {
		t.Fatalf("after the swap, the marker reads %q", got)
	}
	h := history(t, env)
	var results []string
	for _, sw := range h {
		results = append(results, string(sw.Result))
	}
	if strings.Join(results, ",") != "ok,ok" {
		t.Errorf("history: %+v", h)
	}
	if h[1].Downtime <= 0 || h[1].From != digestOf(t, images.good) || h[1].To != digestOf(t, images.next) {
		t.Errorf("the interrupted swap's history line: %+v", h[1])
	}

	// gc keeps the running and the previous image whatever --keep says,
	// and never a data volume; an image pushed but never run goes.
	mustOstal(t, "deploy", "push", env, images.unhealthy)
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
	if !strings.Contains(removed, digestOf(t, images.unhealthy)) {
		t.Errorf("gc kept the image that was never current: %+v", gc)
	}
	if s := status(t, env); !s.Healthy {
		t.Errorf("after gc: %+v", s)
	}
}
