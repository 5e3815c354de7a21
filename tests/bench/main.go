// Command bench measures ostal's build speed and image size for a spec and
// prints a table beside the same package set built by mkosi, Debian's
// image builder, on the same machine in the same run. Run by `make bench`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/images"
	"github.com/ostal/ostal/internal/cli"
)

func main() {
	runs := flag.Int("runs", 3, "runs of each measurement; the table shows the median")
	specPath := flag.String("spec", "images/utzqanil.yaml", "image spec to measure")
	noMkosi := flag.Bool("no-mkosi", false, "skip the mkosi comparison")
	only := flag.String("only", "", `"build", "mkosi", "boot" or "deploy": measure only that ("mkosi": only mkosi's column of the build table)`)
	bootSpecs := flag.String("boot", "images/utzqanil.yaml,tests/images/small.yaml,tests/images/tiny.yaml", "comma-separated specs whose boots to measure")
	flag.Parse()
	if err := checkTools(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *only == "" || *only == "build" || *only == "mkosi" {
		if err := run(ctx, *specPath, *runs, *only != "mkosi", !*noMkosi); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	name := strings.TrimSuffix(filepath.Base(*specPath), ".yaml")
	image := filepath.Join("build", name+".qcow2")
	if *only == "" || *only == "boot" {
		if err := boots(ctx, *specPath, strings.Split(*bootSpecs, ","), *runs); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if *only == "" || *only == "deploy" {
		if err := benchDeploy(ctx, image, *runs); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// checkTools refuses to start without the host programs the bench calls:
// a missing qemu-img was found only after a 40-minute build run, with
// mkosi's column lost.
func checkTools() error {
	var missing []string
	for _, tool := range []string{"qemu-img", "mmdebstrap", "unshare", "chroot"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not found on PATH: run `make test-packages` (or `make bench`, which does)", strings.Join(missing, ", "))
	}
	return nil
}

func boots(ctx context.Context, mainSpec string, specs []string, runs int) error {
	dir, err := os.MkdirTemp("", "ostal-bench-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	imgs, err := bootImages(ctx, mainSpec, specs, dir)
	if err != nil {
		return err
	}
	return benchBoots(ctx, imgs, runs)
}

type sample struct{ cold, warm, size, rawSize []float64 }

func run(ctx context.Context, specPath string, runs int, withOstal, withMkosi bool) error {
	spec, err := images.Load(specPath)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "ostal-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var o, m sample
	var mkosiErr error
	var tools string
	if withMkosi {
		// A failing peer leaves its column empty; ostal's figures stand.
		tools, mkosiErr = mkosiTools(ctx, spec.Mirror)
	}
	for i := 0; i < runs; i++ {
		if withOstal {
			fmt.Fprintf(os.Stderr, "run %d/%d: ostal\n", i+1, runs)
			if err := benchOstal(ctx, specPath, filepath.Join(work, fmt.Sprint("o", i)), &o); err != nil {
				return err
			}
		}
		if withMkosi && mkosiErr == nil {
			fmt.Fprintf(os.Stderr, "run %d/%d: mkosi\n", i+1, runs)
			mkosiErr = benchMkosi(ctx, spec, tools, filepath.Join(work, fmt.Sprint("m", i)), &m)
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s (%d packages), median of %d\tostal\tmkosi %s\tmkosi/ostal\t\n", spec.Name, len(spec.AllPackages()), runs, mkosiVersion(tools))
	row := func(name string, a, b []float64, unit string, scale float64) {
		ma, mb := median(a), median(b)
		ratio := "-"
		if mb > 0 && ma > 0 {
			ratio = fmt.Sprintf("%.2f", mb/ma)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, spread(a, unit, scale, 1), spread(b, unit, scale, 1), ratio)
	}
	row("cold build (debs cached, no tree cache)", o.cold, m.cold, "s", 1)
	row("warm rebuild, one provisioned file changed", o.warm, nil, "s", 1)
	row("compressed qcow2", o.size, m.size, "MiB", 1<<20)
	row("raw disk, allocated", o.rawSize, m.rawSize, "MiB", 1<<20)
	if err := tw.Flush(); err != nil {
		return err
	}
	if mkosiErr != nil {
		fmt.Printf("mkosi failed, so its column is empty: %v\n", mkosiErr)
	}
	return nil
}

// benchOstal: a cold build (every package installed again; .debs come from
// the shared cache so the mirror's speed is not measured), then a rebuild
// after changing one provisioned file.
func benchOstal(ctx context.Context, specPath, dir string, s *sample) error {
	cache := filepath.Join(dir, "cache")
	if err := linkDebs(filepath.Join(builders.DefaultCacheDir(), "debs"), filepath.Join(cache, "debs")); err != nil {
		return err
	}
	prov := filepath.Join(dir, "provision")
	if out, err := exec.Command("cp", "-a", "provision", prov).CombinedOutput(); err != nil {
		return fmt.Errorf("copy provision: %v: %s", err, out)
	}
	out := filepath.Join(dir, "out")
	build := func() (*builders.Manifest, time.Duration, error) {
		start := time.Now()
		var stdout, stderr bytes.Buffer
		args := []string{"build", "--json", "--cache", cache, "--output", out, "--provision", prov, specPath}
		if code := cli.Run(ctx, args, strings.NewReader(""), &stdout, &stderr); code != 0 {
			return nil, 0, fmt.Errorf("ostal build: exit %d: %s", code, stderr.String())
		}
		var m builders.Manifest
		err := json.Unmarshal(stdout.Bytes(), &m)
		return &m, time.Since(start), err
	}
	m, d, err := build()
	if err != nil {
		return err
	}
	s.cold = append(s.cold, d.Seconds())
	s.size = append(s.size, float64(m.Image.Size))
	s.rawSize = append(s.rawSize, float64(mapAllocated(ctx, m.Image.Path)))
	f, err := os.OpenFile(filepath.Join(prov, "base/sshd-ostal.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "# bench: changed at %s\n", time.Now().Format(time.RFC3339Nano))
	f.Close()
	if _, d, err = build(); err != nil {
		return err
	}
	s.warm = append(s.warm, d.Seconds())
	return os.RemoveAll(dir)
}

// mapAllocated sums the data extents of an image: what a raw copy of
// the disk occupies.
func mapAllocated(ctx context.Context, image string) int64 {
	out, err := exec.CommandContext(ctx, "qemu-img", "map", "--output=json", image).Output()
	if err != nil {
		return 0
	}
	var extents []struct {
		Length int64 `json:"length"`
		Data   bool  `json:"data"`
		Zero   bool  `json:"zero"`
	}
	if json.Unmarshal(out, &extents) != nil {
		return 0
	}
	var n int64
	for _, e := range extents {
		if e.Data && !e.Zero {
			n += e.Length
		}
	}
	return n
}

func linkDebs(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("the shared .deb cache is empty: run `make image` first (%w)", err)
	}
	for _, e := range entries {
		if err := os.Link(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
