package builders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/ostal/ostal/images"
)

// stepFetchDebs puts every locked .deb into the content-addressed cache,
// checking each download against the lock's sha256. A .deb already cached
// is never fetched again, so a version that has left the mirror still
// builds.
type stepFetchDebs struct {
	CacheDir string
	Driver   Driver
	// Parallel downloads; the mirror is far, the disk is near.
	Parallel int
}

func (s *stepFetchDebs) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	lock, err := keyLock.get(state)
	if err != nil {
		return halt(state, err)
	}
	spec, err := keySpec.get(state)
	if err != nil {
		return halt(state, err)
	}
	f := &debFetcher{cacheDir: s.CacheDir, driver: s.Driver, parallel: s.Parallel,
		say:   func(format string, args ...any) { say(state, format, args...) },
		urlOf: func(p images.Package) string { return lock.PackageURL(spec, p) }}
	if err := f.fetchMissing(ctx, append(lock.Sets[images.SetImage], lock.Sets[images.SetTools]...)); err != nil {
		return halt(state, err)
	}
	return multistep.ActionContinue
}

// FetchDebs puts the .debs of pkgs into the cache (each checked against
// its sha256, as a build does) and returns their paths in the cache, in
// the order of pkgs; urlOf says where each is fetched.
func FetchDebs(ctx context.Context, cacheDir string, pkgs []images.Package, urlOf func(images.Package) string,
	say func(format string, args ...any)) ([]string, error) {
	f := &debFetcher{cacheDir: cacheDir, driver: &ExecDriver{}, say: say, urlOf: urlOf}
	if err := f.fetchMissing(ctx, pkgs); err != nil {
		return nil, err
	}
	paths := make([]string, len(pkgs))
	for i, p := range pkgs {
		var err error
		if paths[i], err = verifiedDeb(cacheDir, p); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// debFetcher downloads .debs into the content-addressed cache.
type debFetcher struct {
	cacheDir string
	driver   Driver
	parallel int
	say      func(format string, args ...any)
	urlOf    func(images.Package) string
}

// fetchMissing fetches the packages the cache does not hold yet, each once.
func (f *debFetcher) fetchMissing(ctx context.Context, pkgs []images.Package) error {
	dir := filepath.Join(f.cacheDir, "debs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create deb cache: %w", err)
	}
	if err := removeStale(dir); err != nil {
		return err
	}
	var missing []images.Package
	var total int64
	seen := map[string]bool{}
	for _, p := range pkgs {
		if seen[p.SHA256] {
			continue
		}
		seen[p.SHA256] = true
		if fi, err := os.Stat(debPath(f.cacheDir, p.SHA256)); err == nil && fi.Size() == p.Size {
			continue
		}
		missing = append(missing, p)
		total += p.Size
	}
	if len(missing) == 0 {
		f.say("all %d .debs are in the cache %s", len(seen), dir)
		return nil
	}
	f.say("fetching %d of %d .debs (%s) from %s into %s", len(missing), len(seen), humanBytes(total), hostsOf(missing, f.urlOf), dir)
	return f.fetchAll(ctx, missing, total)
}

// hostsOf names the archives' hosts and paths the packages come from.
func hostsOf(pkgs []images.Package, urlOf func(images.Package) string) string {
	var bases []string
	for _, p := range pkgs {
		base := strings.TrimSuffix(urlOf(p), "/"+p.Filename)
		if !slices.Contains(bases, base) {
			bases = append(bases, base)
		}
	}
	return strings.Join(bases, " and ")
}

func (f *debFetcher) fetchAll(ctx context.Context, pkgs []images.Package, total int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var done atomic.Int64
	var mu sync.Mutex
	var errs []error
	work := make(chan images.Package)
	var wg sync.WaitGroup
	parallel := f.parallel
	if parallel <= 0 {
		parallel = 4
	}
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				if err := f.fetch(ctx, p, &done); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	start := time.Now()
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	go func() {
		defer close(work)
		for _, p := range pkgs {
			select {
			case work <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for {
		select {
		case <-ticker.C:
			n := done.Load()
			rate := float64(n) / time.Since(start).Seconds()
			f.say("  %s of %s at %s/s", humanBytes(n), humanBytes(total), humanBytes(int64(rate)))
		case <-finished:
			if len(errs) > 0 {
				return errors.Join(errs...)
			}
			n := done.Load()
			f.say("  fetched %s in %s", humanBytes(n), time.Since(start).Round(time.Second))
			return ctx.Err()
		}
	}
}

// fetch downloads one .deb into a temporary file, checks it, and renames it
// to its sha256 name.
func (f *debFetcher) fetch(ctx context.Context, p images.Package, done *atomic.Int64) error {
	final := debPath(f.cacheDir, p.SHA256)
	tmp := tempName(final)
	out, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", p.Name, err)
	}
	defer os.Remove(tmp)
	h := sha256.New()
	var last int64
	url := f.urlOf(p)
	err = f.driver.Download(ctx, url, io.MultiWriter(out, h), func(n int64) {
		done.Add(n - last)
		last = n
	})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	var status *HTTPStatusError
	switch {
	case errors.As(err, &status) && status.Code == http.StatusNotFound:
		return fmt.Errorf("package %s %s is neither in the cache (%s) nor on the mirror (%s): that version has left the mirror; "+
			"run `ostal lock` to move to the versions the mirror has now, or put the .deb with sha256 %s into the cache",
			p.Name, p.Version, final, status.URL, p.SHA256)
	case err != nil:
		return fmt.Errorf("fetch %s %s: %w", p.Name, p.Version, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return fmt.Errorf("package %s %s from %s has sha256 %s, the lock says %s: the mirror serves other bytes than its signed index says; "+
			"check the mirror, or run `ostal lock` if the archive really changed", p.Name, p.Version, url, got, p.SHA256)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("fetch %s: %w", p.Name, err)
	}
	return nil
}

func (s *stepFetchDebs) Cleanup(multistep.StateBag) {
	// Partial downloads are removed by fetch itself; complete ones are the
	// cache's, not this build's, to keep.
}
