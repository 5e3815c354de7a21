package deploy_test

import (
	"context"
	"testing"
	"time"

	"github.com/ostal/ostal/deploy"
)

// Many short reads through qemu+ssh://: go-libvirt loses about one
// download in 30 there (its first data packet taken for the call's
// reply, then a deadlock); every push begins with one such read, so each
// must come back, right, within a minute.
func TestRepeatedReadsThroughSSH(t *testing.T) {
	buildImages(t)
	sshd := startSSHD(t)
	e := newEnv(t, "reads", sshd.URI(""))
	env, err := deploy.LoadEnvironment(e.write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	img, err := deploy.OpenImage(images.good)
	if err != nil {
		t.Fatal(err)
	}
	mustOstal(t, "deploy", "push", e.write(t, t.TempDir()), images.good)
	for i := 0; i < 80; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		d, err := deploy.Connect(ctx, env, deploy.Options{})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		r, err := d.Push(ctx, img)
		d.Close()
		cancel()
		if err != nil || !r.Already {
			t.Fatalf("read %d: %v (%+v)", i, err, r)
		}
	}
}
