package builders

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/images"
	"github.com/ostal/ostal/provision"
)

func TestMain(m *testing.M) {
	// packer's BasicUi also logs every line; keep the test output readable.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

func TestStepName(t *testing.T) {
	for step, want := range map[multistep.Step]string{
		&stepCheckLock{}:     "check lock",
		&stepFetchDebs{}:     "fetch debs",
		&stepPrepareTools{}:  "prepare tools",
		&stepBootstrapTree{}: "bootstrap tree",
		&stepProvisionTree{}: "provision tree",
		&stepScrubTree{}:     "scrub tree",
		&stepMakeRootfs{}:    "make rootfs",
		&stepMakeESP{}:       "make esp",
		&stepAssembleDisk{}:  "assemble disk",
		&stepConvertQcow2{}:  "convert qcow2",
		&stepWriteManifest{}: "write manifest",
	} {
		assert.Equal(t, want, stepName(step))
	}
}

func TestBuilderStepsOrder(t *testing.T) {
	b := &Builder{Config: Config{CacheDir: "/c", OutputDir: "/o"}, Driver: &fakeDriver{}}
	var names []string
	for _, s := range b.Steps() {
		ts, ok := s.(*timedStep)
		require.True(t, ok, "every step is timed")
		names = append(names, stepName(ts.step))
	}
	assert.Equal(t, []string{"check lock", "fetch debs", "prepare tools", "bootstrap tree", "provision tree",
		"scrub tree", "make rootfs", "make esp", "assemble disk", "convert qcow2", "write manifest"}, names)
}

// toyStep records its runs and cleanups in a shared log.
type toyStep struct {
	name string
	err  error
	log  *[]string
}

func (s *toyStep) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	*s.log = append(*s.log, "run "+s.name)
	if s.err != nil {
		return halt(state, s.err)
	}
	return multistep.ActionContinue
}

func (s *toyStep) Cleanup(multistep.StateBag) { *s.log = append(*s.log, "cleanup "+s.name) }

func TestHaltStopsLaterStepsAndCleansUpEarlierOnes(t *testing.T) {
	var log []string
	boom := errors.New("mke2fs failed")
	steps := []multistep.Step{}
	for _, s := range []*toyStep{{name: "a"}, {name: "b"}, {name: "c", err: boom}, {name: "d"}} {
		s.log = &log
		steps = append(steps, &timedStep{step: s})
	}
	var out, errOut bytes.Buffer
	state := new(multistep.BasicStateBag)
	keyUI.put(state, &WriterUI{Out: &out, Err: &errOut})
	keyTimings.put(state, &timings{})
	(&multistep.BasicRunner{Steps: steps}).Run(context.Background(), state)

	assert.Equal(t, []string{"run a", "run b", "run c", "cleanup c", "cleanup b", "cleanup a"}, log)
	assert.Equal(t, boom, state.Get("error"))
	assert.Contains(t, errOut.String(), "toy step failed after ")
	assert.Contains(t, errOut.String(), ": mke2fs failed")
	tm, err := keyTimings.get(state)
	require.NoError(t, err)
	assert.Len(t, tm.list(), 3, "the steps that ran are timed")
}

// debContent is what the fake mirror serves for a package.
func debContent(name string) []byte { return []byte("deb of " + name) }

func lockedPackage(name, version string) images.Package {
	sum := sha256.Sum256(debContent(name))
	return images.Package{Name: name, Version: version, Arch: "amd64", Size: int64(len(debContent(name))),
		InstalledKiB: 10, SHA256: hex.EncodeToString(sum[:]), Filename: fmt.Sprintf("pool/main/%s/%s_%s_amd64.deb", name[:1], name, version)}
}

// cacheDebs puts the .debs of pkgs (made by lockedPackage) into the cache.
func cacheDebs(t *testing.T, cache string, pkgs ...images.Package) {
	t.Helper()
	for _, p := range pkgs {
		require.NoError(t, os.MkdirAll(filepath.Dir(debPath(cache, p.SHA256)), 0o755))
		require.NoError(t, os.WriteFile(debPath(cache, p.SHA256), debContent(p.Name), 0o644))
	}
}

// project is a checkout with a tiny spec, its provision folder and a
// fresh lock, plus a cache and an output folder.
type project struct {
	dir, spec, lock, provision, output, cache string
	locked                                    *images.Lock
}

func newProject(t *testing.T) *project {
	t.Helper()
	dir := t.TempDir()
	p := &project{dir: dir, spec: filepath.Join(dir, "images/tiny.yaml"), lock: filepath.Join(dir, "images/tiny.lock"),
		provision: filepath.Join(dir, "provision"), output: filepath.Join(dir, "build"), cache: filepath.Join(dir, "cache")}
	require.NoError(t, os.MkdirAll(filepath.Join(p.provision, "base"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Dir(p.spec), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(p.provision, "base/motd"), []byte("welcome\n"), 0o644))
	require.NoError(t, os.WriteFile(p.spec, []byte(`name: tiny
packages:
  - linux-image-amd64
files:
  - source: base/motd
    dest: /etc/motd
units:
  - ssh.service
disk_size: 1GiB
`), 0o644))
	p.locked = &images.Lock{
		Suite: "trixie", Mirror: "http://deb.debian.org/debian", Architecture: "amd64",
		ReleaseDate: time.Date(2026, 11, 21, 9, 15, 44, 0, time.UTC),
		Requested:   map[string][]string{images.SetImage: {"linux-image-amd64"}, images.SetTools: ToolPackages},
		Sets: map[string][]images.Package{
			images.SetImage: {lockedPackage("bash", "5.2"), lockedPackage("linux-image-amd64", "6.12")},
			images.SetTools: {lockedPackage("e2fsprogs", "1.47"), lockedPackage("grub-pc-bin", "2.12")},
		},
	}
	require.NoError(t, p.locked.WriteFile(p.lock))
	return p
}

func (p *project) builder(d Driver) (*Builder, error) {
	b := &Builder{Driver: d, Config: Config{Spec: p.spec, OutputDir: p.output, CacheDir: p.cache, ProvisionDir: p.provision}}
	return b, b.Prepare()
}

func commandsNamed(d *fakeDriver, name string) []Command {
	var out []Command
	for _, c := range d.commands() {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// argAfter returns the argument after flag.
func argAfter(c Command, flag string) string {
	for i, a := range c.Args {
		if a == flag && i+1 < len(c.Args) {
			return c.Args[i+1]
		}
	}
	return ""
}

// buildDriver plays mirror, dpkg-deb, mmdebstrap, cp and the tools well
// enough for every step to run.
func buildDriver(t *testing.T, p *project) *fakeDriver {
	d := &fakeDriver{}
	d.download = func(url string, w io.Writer) error {
		for _, set := range p.locked.Sets {
			for _, pkg := range set {
				if url == p.locked.Mirror+"/"+pkg.Filename {
					_, err := w.Write(debContent(pkg.Name))
					return err
				}
			}
		}
		return &HTTPStatusError{URL: url, Status: "404 Not Found", Code: 404}
	}
	write := func(path string, b []byte) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, b, 0o644)
	}
	d.run = func(c Command) error {
		if ok, err := playTools(c); ok {
			return err
		}
		switch c.Name {
		case "apt-ftparchive":
			_, err := fmt.Fprintf(c.Output, "%s index\n", c.Args[0])
			return err
		case "mmdebstrap":
			tree := c.Args[len(c.Args)-2]
			var status strings.Builder
			for _, pkg := range p.locked.Sets[images.SetImage] {
				fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nVersion: %s\n\n", pkg.Name, pkg.Version)
			}
			for path, content := range map[string]string{
				"var/lib/dpkg/status":                status.String(),
				"boot/vmlinuz-6.12-amd64":            "kernel",
				"boot/initrd.img-6.12-amd64":         "initrd",
				"usr/lib/systemd/system/ssh.service": "[Service]\n",
				"etc/ssh/ssh_host_ed25519_key":       fakeKey,
				"etc/machine-id":                     "0123456789abcdef\n",
				"var/log/apt/history.log":            "Start-Date: 2026\n",
			} {
				if err := write(filepath.Join(tree, path), []byte(content)); err != nil {
					return err
				}
			}
			return nil
		case "cp":
			out, err := exec.Command("cp", c.Args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("cp: %v: %s", err, out)
			}
			return nil
		case "mke2fs":
			return write(c.Args[len(c.Args)-2], []byte("ext4 of "+argAfter(c, "-d")))
		case "grub-mkimage":
			if argAfter(c, "-O") == "i386-pc" {
				return write(argAfter(c, "-o"), fakeCoreImg(4))
			}
			return write(argAfter(c, "-o"), []byte("MZ efi"))
		case "qemu-img":
			return write(c.Args[len(c.Args)-1], []byte("QFI\xfb fake qcow2"))
		}
		return nil
	}
	return d
}

func TestBuilderRunWithFakeDriver(t *testing.T) {
	p := newProject(t)
	d := buildDriver(t, p)
	b, err := p.builder(d)
	require.NoError(t, err)
	var out, errOut bytes.Buffer
	a, err := b.Build(context.Background(), &WriterUI{Out: &out, Err: &errOut})
	require.NoError(t, err, errOut.String())

	assert.ElementsMatch(t, []string{
		p.locked.Mirror + "/pool/main/b/bash_5.2_amd64.deb", p.locked.Mirror + "/pool/main/l/linux-image-amd64_6.12_amd64.deb",
		p.locked.Mirror + "/pool/main/e/e2fsprogs_1.47_amd64.deb", p.locked.Mirror + "/pool/main/g/grub-pc-bin_2.12_amd64.deb",
	}, d.downloads)
	assert.Equal(t, []string{"dpkg-deb", "dpkg-deb", "ld.so", "ld.so", "ld.so", "ld.so", "ld.so", "ld.so", "ld.so",
		"apt-ftparchive", "apt-ftparchive", "mmdebstrap", "cp",
		"chroot", "chroot", "chroot", "mke2fs", "grub-mkimage", "mkfs.fat", "mmd", "mcopy", "sfdisk", "grub-mkimage", "qemu-img"}, d.names())

	mke2fs := commandsNamed(d, "mke2fs")[0]
	work := filepath.Dir(argAfter(mke2fs, "-d"))
	chroots := commandsNamed(d, "chroot")
	assert.Equal(t, []string{filepath.Join(work, "root"), "systemctl", "enable", "ssh.service"}, chroots[0].Args)
	// Every image masks the units that no VM of ostal's uses.
	assert.Equal(t, append([]string{filepath.Join(work, "root"), "systemctl", "mask"}, provision.System.Masked...), chroots[1].Args)
	assert.Equal(t, []string{filepath.Join(work, "root"), "systemctl", "set-default", "multi-user.target"}, chroots[2].Args)
	stdin, err := io.ReadAll(commandsNamed(d, "sfdisk")[0].Stdin)
	require.NoError(t, err)
	assert.Equal(t, sfdiskScript(identityFor("tiny"), 1<<30), string(stdin), "sfdisk gets the layout of a 1 GiB disk")
	assert.Contains(t, commandsNamed(d, "qemu-img")[0].Args, "compression_type=zstd,cluster_size=65536", "the spec's default compression")
	for _, name := range []string{"mke2fs", "grub-mkimage", "mkfs.fat", "mmd", "mcopy", "sfdisk", "qemu-img"} {
		for _, c := range commandsNamed(d, name) {
			assert.Equal(t, treeDir(p.cache, images.SetTools, p.locked.Digest(images.SetTools)), c.Tools, "%s runs from the locked tools tree", name)
		}
	}

	assert.Equal(t, filepath.Join(p.output, "tiny.qcow2"), a.Image)
	assert.Equal(t, []string{filepath.Join(p.output, "tiny.qcow2"), filepath.Join(p.output, "tiny.manifest.json")}, a.Files())
	img, err := os.ReadFile(a.Image)
	require.NoError(t, err)
	assert.Equal(t, "QFI\xfb fake qcow2", string(img))
	assert.ElementsMatch(t, []string{".work", "tiny.qcow2", "tiny.manifest.json", "tiny.files.txt"}, dirNames(t, p.output))
	assert.Empty(t, dirNames(t, filepath.Join(p.output, ".work")), "the work directory is removed")

	var m Manifest
	raw, err := os.ReadFile(a.ManifestPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, "tiny", m.Name)
	sum := sha256.Sum256(img)
	assert.Equal(t, hex.EncodeToString(sum[:]), m.Image.SHA256)
	assert.Equal(t, int64(len(img)), m.Image.Size)
	assert.Equal(t, p.spec, m.Spec.Path)
	assert.Equal(t, p.lock, m.Lock.Path)
	assert.Equal(t, p.locked.ReleaseDate, m.Lock.ReleaseDate)
	assert.Equal(t, []PackageVersion{{"bash", "5.2"}, {"linux-image-amd64", "6.12"}}, m.Packages)
	var stepNames []string
	for _, s := range m.Steps {
		stepNames = append(stepNames, s.Step)
	}
	assert.Equal(t, []string{"check lock", "fetch debs", "prepare tools", "bootstrap tree", "provision tree",
		"scrub tree", "make rootfs", "make esp", "assemble disk", "convert qcow2"}, stepNames)

	files, err := os.ReadFile(filepath.Join(p.output, "tiny.files.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(files), "\n/etc/motd -rw-r--r-- ")
	assert.Regexp(t, `\n/etc/machine-id -r[-w]-r--r-- \d+:\d+ 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n`, string(files),
		"machine-id is emptied, so that every machine makes its own")
	assert.Contains(t, string(files), "\n/etc/hostname -rw-r--r-- ")
	for _, dir := range []string{"etc", "var"} {
		assert.Contains(t, string(files), "\n/"+dir+"/.updated -rw-r--r-- ", "no boot rebuilds the caches the packages built")
	}
	assert.NotContains(t, string(files), "ssh_host_ed25519_key", "host keys are scrubbed")
	assert.NotContains(t, string(files), "history.log", "build logs are scrubbed")
	assert.Contains(t, out.String(), "sha256 "+m.Image.SHA256)

	// A second build reuses the cached .debs, tools tree and root tree.
	d.reset()
	b, err = p.builder(d)
	require.NoError(t, err)
	_, err = b.Build(context.Background(), &WriterUI{Out: io.Discard, Err: io.Discard})
	require.NoError(t, err)
	assert.Empty(t, d.downloads)
	assert.Equal(t, []string{"cp", "chroot", "chroot", "chroot", "mke2fs", "grub-mkimage", "mkfs.fat", "mmd", "mcopy", "sfdisk",
		"grub-mkimage", "qemu-img"}, d.names())

	// The work trees were hard links to the cached tree: what the builds
	// replaced or removed in theirs is still there in the cache.
	tree := treeDir(p.cache, images.SetImage, imageTreeKey(p.locked))
	id, err := os.ReadFile(filepath.Join(tree, "etc/machine-id"))
	require.NoError(t, err)
	assert.Equal(t, "0123456789abcdef\n", string(id), "the cache's files are never written into")
	assert.FileExists(t, filepath.Join(tree, "etc/ssh/ssh_host_ed25519_key"))
}

func TestTreeCopyArgs(t *testing.T) {
	assert.Equal(t, []string{"-a", "--link", "/c/tree", "/w/root"}, treeCopyArgs("/c/tree", "/w/root", true))
	assert.Equal(t, []string{"-a", "--reflink=auto", "/c/tree", "/w/root"}, treeCopyArgs("/c/tree", "/w/root", false))
	dir := t.TempDir()
	assert.True(t, sameDevice(dir, t.TempDir()))
	assert.False(t, sameDevice(dir, "/proc"), "another filesystem")
}

func TestBuilderRunHaltsOnFailure(t *testing.T) {
	p := newProject(t)
	d := buildDriver(t, p)
	play := d.run
	d.run = func(c Command) error {
		if c.Name == "mke2fs" {
			return fmt.Errorf("mke2fs failed: %w", errors.Join(errors.New("exit status 1"), ErrNoSpace))
		}
		return play(c)
	}
	b, err := p.builder(d)
	require.NoError(t, err)
	var errOut bytes.Buffer
	_, err = b.Build(context.Background(), &WriterUI{Out: io.Discard, Err: &errOut})
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "make the root filesystem (957.0 MiB of disk_size 1GiB): mke2fs failed"), err.Error())
	assert.True(t, IsNoSpace(err), "a full disk is recognised through the step's wrapping")
	assert.Contains(t, errOut.String(), "make rootfs failed after ")

	assert.Equal(t, "mke2fs", d.names()[len(d.names())-1], "no step runs after the failing one")
	assert.Empty(t, dirNames(t, filepath.Join(p.output, ".work")), "the work directory is cleaned up")
	assert.NoFileExists(t, filepath.Join(p.output, "tiny.qcow2"))
	assert.NoFileExists(t, filepath.Join(p.output, "tiny.manifest.json"))
	assert.DirExists(t, treeDir(p.cache, images.SetImage, imageTreeKey(p.locked)), "the cached root tree stays")
}

func TestBuilderRunRemovesAHalfWrittenImage(t *testing.T) {
	p := newProject(t)
	d := buildDriver(t, p)
	play := d.run
	d.run = func(c Command) error {
		if c.Name == "qemu-img" {
			require.NoError(t, play(c)) // writes part of the image, then fails
			return errors.New("qemu-img: error while writing: Input/output error")
		}
		return play(c)
	}
	b, err := p.builder(d)
	require.NoError(t, err)
	_, err = b.Build(context.Background(), &WriterUI{Out: io.Discard, Err: io.Discard})
	require.EqualError(t, err, "compress the disk: qemu-img: error while writing: Input/output error")
	assert.ElementsMatch(t, []string{".work"}, dirNames(t, p.output), "neither the partial qcow2 nor a manifest remains")
	assert.Empty(t, dirNames(t, filepath.Join(p.output, ".work")))
}

func TestBuilderStaleLockFailsBeforeAnything(t *testing.T) {
	p := newProject(t)
	require.NoError(t, os.WriteFile(p.spec, []byte("name: tiny\npackages: [linux-image-cloud-amd64]\ndisk_size: 1GiB\n"), 0o644))
	_, err := p.builder(&fakeDriver{})
	require.Error(t, err, "Prepare refuses a stale lock")
	assert.Contains(t, err.Error(), "run `ostal lock "+p.spec+"`")

	d := &fakeDriver{}
	b := &Builder{Driver: d, Config: Config{Spec: p.spec, OutputDir: p.output, CacheDir: p.cache, ProvisionDir: p.provision}}
	b.Config.ApplyDefaults()
	_, err = b.Build(context.Background(), &WriterUI{Out: io.Discard, Err: io.Discard})
	require.Error(t, err)
	assert.Equal(t, p.lock+": request image: the lock is stale: since it was written, added linux-image-cloud-amd64; removed linux-image-amd64; "+
		"run `ostal lock "+p.spec+"` to lock the spec as it is now", err.Error())
	assert.Empty(t, d.commands())
	assert.Empty(t, d.downloads)
	assert.NoDirExists(t, p.cache)
}

func TestStepPrepareToolsReusesTheCache(t *testing.T) {
	cache := t.TempDir()
	lock := &images.Lock{Architecture: "amd64", Sets: map[string][]images.Package{
		images.SetTools: {lockedPackage("e2fsprogs", "1.47"), lockedPackage("mtools", "4.0")},
	}}
	cacheDebs(t, cache, lock.Sets[images.SetTools]...)
	d := &fakeDriver{run: func(c Command) error {
		_, err := playTools(c)
		return err
	}}
	step := &stepPrepareTools{CacheDir: cache, Driver: d}
	run := func() (multistep.StepAction, multistep.StateBag) {
		state := new(multistep.BasicStateBag)
		keyLock.put(state, lock)
		return step.Run(context.Background(), state), state
	}

	action, state := run()
	require.Equal(t, multistep.ActionContinue, action, state.Get("error"))
	dir := treeDir(cache, images.SetTools, lock.Digest(images.SetTools))
	got, err := keyTools.get(state)
	require.NoError(t, err)
	assert.Equal(t, dir, got)
	lines := d.commandLines()
	require.Len(t, lines, 2+len(toolPrograms))
	for i, p := range lock.Sets[images.SetTools] {
		assert.Equal(t, "dpkg-deb --extract "+debPath(cache, p.SHA256)+" "+tempName(dir), lines[i], "unpacked into a temporary tree")
	}
	tmp := tempName(dir)
	assert.Equal(t, tmp+"/usr/lib64/ld-linux-x86-64.so.2 --list --library-path "+tmp+"/usr/lib/x86_64-linux-gnu "+tmp+"/usr/bin/mke2fs",
		lines[2], "the libraries of every tool are checked before the tree is used")
	assert.FileExists(t, filepath.Join(dir, "usr/bin/qemu-img"))

	d.reset()
	action, state = run()
	require.Equal(t, multistep.ActionContinue, action)
	assert.Empty(t, d.commands(), "a cached tools tree is not unpacked again")
	got, _ = keyTools.get(state)
	assert.Equal(t, dir, got)
}

func TestStepPrepareToolsFailureLeavesNoTree(t *testing.T) {
	cache := t.TempDir()
	lock := &images.Lock{Architecture: "amd64", Sets: map[string][]images.Package{
		images.SetTools: {lockedPackage("e2fsprogs", "1.47")},
	}}
	cacheDebs(t, cache, lock.Sets[images.SetTools]...)
	d := &fakeDriver{run: func(Command) error { return errors.New("dpkg-deb: not a Debian archive") }}
	state := new(multistep.BasicStateBag)
	keyLock.put(state, lock)
	action := (&stepPrepareTools{CacheDir: cache, Driver: d}).Run(context.Background(), state)
	assert.Equal(t, multistep.ActionHalt, action)
	assert.EqualError(t, state.Get("error").(error), "unpack tool package e2fsprogs: dpkg-deb: not a Debian archive")
	assert.Empty(t, dirNames(t, filepath.Join(cache, "trees")))
}

func TestDamagedCachedDebIsRefusedAndRemoved(t *testing.T) {
	cache := t.TempDir()
	p := lockedPackage("e2fsprogs", "1.47")
	cacheDebs(t, cache, p)
	path, err := verifiedDeb(cache, p)
	require.NoError(t, err)
	assert.Equal(t, debPath(cache, p.SHA256), path)

	// Same size, other bytes: what a size check lets through.
	b := debContent(p.Name)
	b[0] ^= 0xff
	require.NoError(t, os.WriteFile(path, b, 0o644))
	lock := &images.Lock{Architecture: "amd64", Sets: map[string][]images.Package{images.SetTools: {p}}}
	state := new(multistep.BasicStateBag)
	keyLock.put(state, lock)
	d := &fakeDriver{}
	action := (&stepPrepareTools{CacheDir: cache, Driver: d}).Run(context.Background(), state)
	require.Equal(t, multistep.ActionHalt, action)
	err = state.Get("error").(error)
	assert.Contains(t, err.Error(), "the cached .deb of e2fsprogs 1.47 ("+path+") has sha256 ")
	assert.Contains(t, err.Error(), "the lock says "+p.SHA256+": it was damaged in the cache. It is removed now; build again to fetch it anew")
	assert.Empty(t, d.commands(), "nothing is unpacked from a damaged .deb")
	assert.NoFileExists(t, path, "the next build fetches it again")
}

func TestStepWithoutEarlierStateHalts(t *testing.T) {
	state := new(multistep.BasicStateBag)
	action := (&stepMakeRootfs{Driver: &fakeDriver{}}).Run(context.Background(), state)
	assert.Equal(t, multistep.ActionHalt, action)
	assert.EqualError(t, state.Get("error").(error), "internal: spec was not set by an earlier step")
}
