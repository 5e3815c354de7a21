package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/internal/virt"
)

// The first deployment creates the domain and its data volumes.
func TestFirstDeployment(t *testing.T) {
	for _, c := range []struct {
		name        string
		arrange     func(w *world)
		wantErr     string
		wantResults []Result
	}{
		{name: "healthy", wantResults: []Result{ResultOK}},
		{name: "not healthy: failed, left running for an admin",
			arrange: func(w *world) { w.unhealthy["A"] = errors.New("check ssh: refused") },
			wantErr: "the first deployment of ostal-test is not healthy and there is no earlier image to go back to", wantResults: []Result{ResultFailed}},
		{name: "interrupted after define: finished by the next run",
			arrange: func(w *world) {
				_, _, died := w.swap(testOperator, "A", StepDefine)
				require.True(t, died)
				require.Equal(t, StepDefine, w.state().Journal.Step)
			}, wantResults: []Result{ResultOK}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			if c.arrange != nil {
				c.arrange(w)
			}
			_, err, _ := w.swap(testOperator, "A", "")
			if c.wantErr != "" {
				assert.ErrorContains(t, err, c.wantErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, w.img["A"].Digest, w.state().Current.Digest)
			}
			assert.Equal(t, c.wantResults, w.results())
			assert.Equal(t, "A", w.imageName())
			assert.True(t, w.running())
			capacity, _, err := w.host.VolumeSize(context.Background(), "ostal-test-ostal-data")
			require.NoError(t, err)
			assert.Equal(t, uint64(1<<30), capacity)
			def, err := w.host.DefinedDomain(context.Background(), "ostal-test")
			require.NoError(t, err)
			require.Len(t, def.Devices.Disks, 2)
			assert.Equal(t, "ostal-data", def.Devices.Disks[1].Serial)
			assert.Equal(t, fakePool+"ostal-test-ostal-data", def.Devices.Disks[1].Source.File)
			assert.Nil(t, w.state().Journal)
		})
	}
}

// A domain of that name that ostal did not deploy is never redefined.
func TestForeignDomainRefused(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.host.Define(context.Background(), &virt.Domain{Name: "ostal-test"}))
	_, err, _ := w.swap(testOperator, "A", "")
	assert.ErrorContains(t, err, "already exists on qemu:///system but ostal did not deploy it")
	assert.Zero(t, w.host.calls["Start"])
}

// Plans that would lose data are refused before anything is touched.
func TestDataVolumePlansRefused(t *testing.T) {
	for _, c := range []struct{ name, size, want string }{
		{"shrink", "512MiB", "data_volumes[0].size: \"512MiB\" is smaller than volume ostal-test-ostal-data (1024 MiB): ostal never shrinks a data volume"},
		{"grow", "2GiB", "ostal does not grow data volumes"},
		{"left out", "", "that the environment leaves out; ostal never detaches or deletes data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.mustSwap("A")
			if c.size == "" {
				w.env.DataVolumes = nil
			} else {
				w.env.DataVolumes[0].Size = c.size
			}
			_, err, _ := w.swap(testOperator, "B", "")
			assert.ErrorContains(t, err, c.want)
			assert.ErrorContains(t, err, "nothing was changed")
			assert.Equal(t, "A", w.imageName())
			assert.Equal(t, []Result{ResultOK}, w.results())
		})
	}
}

// A data volume that the domain has but the pool lost is never made
// again, empty, by a later swap; one the domain never had is made.
func TestLostDataVolumeRefused(t *testing.T) {
	w := newWorld(t)
	w.mustSwap("A")
	lost := w.env.VolumeName(w.env.DataVolumes[0])
	require.NoError(t, w.host.DeleteVolume(context.Background(), lost))
	_, err, _ := w.swap(testOperator, "B", "")
	assert.ErrorContains(t, err, "data_volumes[0]: volume "+lost+" is missing from pool")
	assert.ErrorContains(t, err, "ostal never makes a data volume again; restore it from a backup")
	assert.ErrorContains(t, err, "nothing was changed")
	assert.NotContains(t, w.host.volumes, lost)
	assert.NotContains(t, w.host.volumes, w.img["B"].Release(w.env.Domain).Overlay, "no swap began")
	assert.Equal(t, "A", w.imageName())

	// A new volume beside a lost one is not made either: nothing changes.
	w.env.DataVolumes = append(w.env.DataVolumes, DataVolume{Name: "archives", Size: "1GiB"})
	_, err, _ = w.swap(testOperator, "B", "")
	assert.ErrorContains(t, err, "nothing was changed")
	assert.NotContains(t, w.host.volumes, w.env.VolumeName(w.env.DataVolumes[1]))

	w = newWorld(t)
	w.mustSwap("A")
	w.env.DataVolumes = append(w.env.DataVolumes, DataVolume{Name: "archives", Size: "1GiB"})
	w.mustSwap("B")
	assert.Contains(t, w.host.volumes, w.env.VolumeName(w.env.DataVolumes[1]), "a volume new to the environment is made")
}

// gc keeps the running and previous images whatever --keep says, and
// never a data volume or another domain's image.
func TestGCKeepsWhatIsInUse(t *testing.T) {
	w := newWorld(t)
	w.img["C"] = testImage(t, t.TempDir(), "C")
	w.img["D"] = testImage(t, t.TempDir(), "D")
	w.mustSwap("A")
	w.mustSwap("B")
	w.mustSwap("C")
	w.push("D")
	_, err := w.host.CreateVolume(context.Background(), virt.Volume{Name: "other-root-" + Short(w.img["D"].Digest) + ".qcow2"})
	require.NoError(t, err)
	res, err := w.deployer(testOperator, "machine-1", "").GC(context.Background(), 0)
	require.NoError(t, err)
	a := w.img["A"].Release("ostal-test")
	assert.ElementsMatch(t, []string{a.Overlay, a.Volume}, res.Removed)
	assert.Len(t, res.Kept, 3)
	assert.Contains(t, w.host.volumes, "ostal-test-ostal-data")
}

func TestPush(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	d := w.deployer(testOperator, "machine-1", "")
	img := w.img["A"]
	res, err := d.Push(ctx, img)
	require.NoError(t, err)
	assert.False(t, res.Already)
	assert.Equal(t, img.Size, res.Sent)
	assert.Equal(t, "QFI\xfb", string(w.host.volumes[img.VolumeName()].data[:4]))

	res, err = d.Push(ctx, img)
	require.NoError(t, err)
	assert.True(t, res.Already)

	// An interrupted push (no header yet) is sent again.
	copy(w.host.volumes[img.VolumeName()].data, make([]byte, 4))
	res, err = d.Push(ctx, img)
	require.NoError(t, err)
	assert.False(t, res.Already)
	assert.Contains(t, w.out.String(), "was interrupted: sending it again")

	// The link fails during the upload.
	w.host.fail["UploadExtents"] = errBoom
	_, err = d.Push(ctx, w.img["B"])
	assert.ErrorContains(t, err, "the volume is incomplete (no whole qcow2 header) and nothing uses it: run the push again to start over")
	assert.ErrorIs(t, err, errBoom)

	w.host.free = 1 << 20
	_, err = d.Push(ctx, w.img["B"])
	assert.ErrorContains(t, err, "has 1 MiB free, and this image needs 64 MiB; nothing was sent")
}

// The maintenance window: refused outside it, or waited for.
func TestSwapWindow(t *testing.T) {
	w := newWorld(t)
	w.env.Maintenance = Maintenance{Window: "daily 04:00-05:00", Timezone: "UTC"}
	d := w.deployer(testOperator, "machine-1", "")
	err := d.waitWindow(context.Background(), InWindowOnly)
	assert.ErrorContains(t, err, "it is outside the maintenance window")
	assert.ErrorContains(t, err, "which opens in 1h0m0s")
	require.NoError(t, d.waitWindow(context.Background(), WaitForWindow))
	assert.Equal(t, 4, w.clock.Now().Hour(), "waited until the window opened")
	require.NoError(t, d.waitWindow(context.Background(), InWindowOnly))
}

// The real health wait notices a guest that stopped by itself.
func TestHealthWaitSeesAGuestThatStopped(t *testing.T) {
	w := newWorld(t)
	w.mustSwap("A")
	require.NoError(t, w.host.Destroy(context.Background(), "ostal-test"))
	d := newDeployer(w.env, w.host, Options{})
	err := d.health(context.Background(), w.state(), *w.state().Current)
	assert.ErrorContains(t, err, "the guest stopped")
	assert.ErrorContains(t, err, "the image does not boot (its console is in /var/log/libvirt/qemu/ostal-test-serial.log on the host)")
}

// Status and history read the record.
func TestStatusAndHistory(t *testing.T) {
	w := newWorld(t)
	d := w.deployer(testOperator, "machine-1", "")
	s, err := d.Status(context.Background())
	require.NoError(t, err)
	assert.False(t, s.Deployed)
	w.mustSwap("A")
	require.NoError(t, w.host.Destroy(context.Background(), "ostal-test"))
	s, err = d.Status(context.Background())
	require.NoError(t, err)
	assert.True(t, s.Deployed)
	assert.Equal(t, "not running", s.Health)
	h, err := d.History(context.Background())
	require.NoError(t, err)
	require.Len(t, h, 1)
	assert.True(t, strings.HasPrefix(h[0].ID, "20261125T030000Z-"))
}
