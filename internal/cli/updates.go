package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/images"
)

func runUpdates(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "updates", "[spec.yaml]",
		"List the packages of the image (and of the build tools) for which the spec's archives (the suite, its\n"+
			"-updates and -security) now have another version than the lock, security fixes apart from the rest,\n"+
			"each with the CVE numbers and DSA/DLA advisories that the new .deb's own changelog names.\n"+
			"Exit 1 when a security update is pending; `ostal lock --update` takes them.",
		"ostal updates                           # images/utzqanil.yaml against its lock",
		"ostal updates --json tests/images/tiny.yaml")
	asJSON := fs.Bool("json", false, "print the updates as JSON")
	cache, provision := specFlags(fs, env)
	spec, err := loadOneSpec(fs, env, args)
	if err != nil {
		return err
	}
	u, err := findUpdates(ctx, env, spec, *cache, *provision)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := u.writeJSON(env.Stdout); err != nil {
			return err
		}
	} else if len(u.changes) == 0 {
		fmt.Fprintf(env.Stdout, "%s is up to date with %s\n", u.old.Path, archiveNames(spec))
	} else {
		images.WriteChanges(env.Stdout, u.changes)
	}
	if images.HasSecurity(u.changes) {
		return fmt.Errorf("security updates are pending for %s: run `ostal lock --update %s`, then build, test and deploy the image",
			u.old.Path, spec.Path)
	}
	return nil
}

// updates is a spec's lock, the lock its archives give today, and what
// differs, with what each change fixes.
type updates struct {
	old, now *images.Lock
	changes  []images.Change
}

// findUpdates locks the spec anew (in memory) and compares with its lock;
// the new .debs are fetched into the cache, checked against the signed
// indexes' sha256 (the build then has them), and their changelogs read.
func findUpdates(ctx context.Context, env *Env, spec *images.Spec, cache, provision string) (*updates, error) {
	old, err := images.ReadLock(images.LockPath(spec.Path))
	if err != nil {
		return nil, err
	}
	now, err := resolveLock(ctx, env, spec, cache, provision)
	if err != nil {
		return nil, err
	}
	u := &updates{old: old, now: now, changes: images.DiffLocks(old, now)}
	var pkgs []images.Package
	for _, c := range u.changes {
		if c.New != "" {
			pkgs = append(pkgs, c.Package)
		}
	}
	if len(pkgs) == 0 {
		return u, nil
	}
	say := func(format string, args ...any) { fmt.Fprintf(env.Stderr, format+"\n", args...) }
	paths, err := builders.FetchDebs(ctx, cache, pkgs, func(p images.Package) string { return now.PackageURL(spec, p) }, say)
	if err != nil {
		return nil, err
	}
	changelogs := map[string]*images.DebChangelog{}
	for i, p := range pkgs {
		if changelogs[p.Name], err = images.ReadDebChangelog(paths[i], p.Name); err != nil {
			return nil, fmt.Errorf("read the changelog of %s %s: %w", p.Name, p.Version, err)
		}
	}
	images.AddFixes(u.changes, changelogs)
	return u, nil
}

// resolveLock reads the spec's archives (each Release file verified with
// its keyring) and locks the spec against them, without writing.
func resolveLock(ctx context.Context, env *Env, spec *images.Spec, cache, provision string) (*images.Lock, error) {
	fmt.Fprintf(env.Stderr, "reading %s %s from %s and %s\n", archiveNames(spec), spec.Architecture, spec.Mirror, spec.SecurityMirror)
	archive, err := images.OpenArchive(ctx, cache, spec)
	if err != nil {
		return nil, err
	}
	if err := images.Validate(spec, provision, archive.Index); err != nil {
		return nil, err
	}
	return images.MakeLock(ctx, archive, spec, images.LockPath(spec.Path), builders.ToolPackages)
}

// archiveNames are the suites of the spec's archives, for messages.
func archiveNames(spec *images.Spec) string {
	var names []string
	for _, src := range spec.Sources() {
		names = append(names, src.Suite)
	}
	return strings.Join(names, ", ")
}

func (u *updates) writeJSON(w io.Writer) error {
	out := struct {
		Lock     string          `json:"lock"`
		Security []images.Change `json:"security"`
		Other    []images.Change `json:"other"`
		Removed  []images.Change `json:"removed"`
	}{Lock: u.old.Path, Security: []images.Change{}, Other: []images.Change{}, Removed: []images.Change{}}
	for _, c := range u.changes {
		switch {
		case c.Security:
			out.Security = append(out.Security, c)
		case c.New == "":
			out.Removed = append(out.Removed, c)
		default:
			out.Other = append(out.Other, c)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
