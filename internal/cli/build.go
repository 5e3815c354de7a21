package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/images"
	"github.com/ostal/ostal/internal/buildinfo"
)

func runBuild(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "build", "[spec.yaml]",
		"Build a bootable, compressed qcow2 from a spec and its lock: <output>/<name>.qcow2, with\n"+
			"<name>.manifest.json (digests, packages, step times) and <name>.files.txt (every file of the image).\n"+
			"Same spec, same lock and same ostal give the same bytes. Needs root (mmdebstrap, chroot).",
		"ostal build                             # images/utzqanil.yaml -> build/utzqanil.qcow2",
		"ostal build --json tests/images/tiny.yaml > manifest.json",
		"OSTAL_CACHE=/srv/ostal-cache ostal build")
	asJSON := fs.Bool("json", false, "print the manifest as JSON on stdout (progress goes to stderr)")
	cache, provision := specFlags(fs, env)
	output := fs.String("output", env.Settings.GetString("output"), "folder for the image, its manifest and file listing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(env.Stderr, "ostal build: one spec at a time")
		return errUsage
	}
	progress := env.Stdout
	if *asJSON {
		progress = env.Stderr
	}
	b := &builders.Builder{Config: builders.Config{Spec: specArgs(fs)[0], OutputDir: *output, CacheDir: *cache,
		ProvisionDir: *provision, Version: buildinfo.Version, Commit: buildinfo.Commit}}
	if err := b.Prepare(); err != nil {
		return err
	}
	start := time.Now()
	a, err := b.Build(ctx, &builders.WriterUI{Out: progress, Err: env.Stderr})
	if err != nil {
		if builders.IsNoSpace(err) {
			return fmt.Errorf("%w\nthe disk ran out of space: %s; free space there or point OSTAL_CACHE and --output elsewhere",
				err, spaceNeeded(b.Config.Lock, *cache, *output))
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(a.Manifest)
	}
	printSummary(progress, a, time.Since(start))
	return nil
}

func printSummary(w io.Writer, a *builders.Artifact, total time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nstep\tseconds")
	for _, s := range a.Manifest.Steps {
		fmt.Fprintf(tw, "%s\t%.1f\n", s.Step, s.Seconds)
	}
	fmt.Fprintf(tw, "total\t%.1f\n", total.Seconds())
	tw.Flush()
	fmt.Fprintf(w, "\nimage     %s (%d MiB)\nsha256    %s\nmanifest  %s\n", a.Image, a.Manifest.Image.Size>>20, a.Manifest.Image.SHA256, a.ManifestPath)
}

// spaceNeeded says how much room a build of the locked image takes: the
// .debs and a root tree in the cache, a working copy of the tree, the
// filesystem image and the qcow2 in the output folder.
func spaceNeeded(lockPath, cache, output string) string {
	l, err := images.ReadLock(lockPath)
	if err != nil {
		return fmt.Sprintf("a build needs room in %s and %s", cache, output)
	}
	var debs, installed int64
	for _, p := range l.Sets[images.SetImage] {
		debs += p.Size
		installed += p.InstalledKiB << 10
	}
	gib := func(n int64) string { return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30)) }
	return fmt.Sprintf("this image needs about %s in %s (its .debs and one root tree) and %s in %s (a copy of the tree, its filesystem and the qcow2)",
		gib(debs+installed), cache, gib(3*installed), output)
}
