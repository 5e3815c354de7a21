package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ostal/ostal/builders"
	"github.com/ostal/ostal/images"
)

// specFlags are the flags of every command that reads a spec: where the
// cache is and where files[].source are found.
func specFlags(fs *flag.FlagSet, env *Env) (cache, provision *string) {
	provision = fs.String("provision", env.Settings.GetString("provision"), "folder that files[].source is relative to")
	return cacheFlag(fs, env), provision
}

func cacheFlag(fs *flag.FlagSet, env *Env) *string {
	def := env.Settings.GetString("cache")
	if def == "" {
		def = builders.DefaultCacheDir()
	}
	return fs.String("cache", def, "cache for .debs, apt indexes and root trees (env OSTAL_CACHE); safe to delete")
}

// loadOneSpec parses a command's flags and loads the one spec it takes,
// images/utzqanil.yaml when none is named.
func loadOneSpec(fs *flag.FlagSet, env *Env, args []string) (*images.Spec, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(env.Stderr, "ostal %s: one spec at a time\n", fs.Name())
		return nil, errUsage
	}
	return images.Load(specArgs(fs)[0])
}

func runLock(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "lock", "[spec.yaml]",
		"Resolve the spec's packages (with Debian's essential set) and the build tools against the spec's archives\n"+
			"(the suite, its -updates and its -security, each Release file verified with its keyring), and write the\n"+
			"lock beside the spec: exact versions, each package's archive, .deb sizes and sha256, the archives' dates.\n"+
			"`ostal build` installs exactly what the lock says. --update prints what changed and the CVEs it fixes.",
		"ostal lock                              # writes images/utzqanil.lock",
		"ostal lock --check                      # exit 1 if the lock no longer matches the spec",
		"ostal lock --update --message build/update.msg   # take Debian's updates; write the commit message",
		"ostal lock tests/images/tiny.yaml")
	check := fs.Bool("check", false, "only check that the lock matches the spec; write nothing")
	update := fs.Bool("update", false, "move an existing lock to the archives' newest versions and print the diff with the CVEs fixed")
	message := fs.String("message", "", "with --update: write the new lock's commit message (the CVEs it fixes) to this file; removed when nothing changed")
	cache, provision := specFlags(fs, env)
	spec, err := loadOneSpec(fs, env, args)
	if err != nil {
		return err
	}
	path := spec.Path
	switch {
	case *check:
		l, err := images.ReadLock(images.LockPath(path))
		if err != nil {
			return err
		}
		if err := l.CheckFresh(spec, builders.ToolPackages); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s matches %s\n", l.Path, path)
		return nil
	case *update:
		return updateLock(ctx, env, spec, *cache, *provision, *message)
	}
	l, err := resolveLock(ctx, env, spec, *cache, *provision)
	if err != nil {
		return err
	}
	if err := l.WriteFile(l.Path); err != nil {
		return err
	}
	printLockSummary(env, l)
	return nil
}

// updateLock writes the new lock when a package changed, prints the
// changes, and writes the commit message naming the CVEs fixed.
func updateLock(ctx context.Context, env *Env, spec *images.Spec, cache, provision, message string) error {
	u, err := findUpdates(ctx, env, spec, cache, provision)
	if err != nil {
		return err
	}
	if len(u.changes) == 0 && slices.Equal(u.old.Requested[images.SetImage], u.now.Requested[images.SetImage]) &&
		slices.Equal(u.old.Requested[images.SetTools], u.now.Requested[images.SetTools]) {
		fmt.Fprintf(env.Stdout, "%s: no package has a newer version in %s; the lock is unchanged\n", u.old.Path, archiveNames(spec))
		if message != "" {
			if err := os.Remove(message); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		return nil
	}
	if err := u.now.WriteFile(u.now.Path); err != nil {
		return err
	}
	images.WriteChanges(env.Stdout, u.changes)
	printLockSummary(env, u.now)
	if cves := images.AllCVEs(u.changes); len(cves) > 0 {
		fmt.Fprintf(env.Stdout, "fixes %d CVEs: %s\n", len(cves), strings.Join(cves, " "))
	}
	if message != "" {
		if err := os.WriteFile(message, []byte(images.CommitMessage(u.now.Path, u.changes)), 0o644); err != nil {
			return fmt.Errorf("write the commit message: %w", err)
		}
	}
	return nil
}

func printLockSummary(env *Env, l *images.Lock) {
	var size int64
	for _, p := range l.Sets[images.SetImage] {
		size += p.Size
	}
	fmt.Fprintf(env.Stdout, "%s: %d image packages (%d MiB of .debs), %d tool packages; Debian %s of %s\n",
		l.Path, len(l.Sets[images.SetImage]), size>>20, len(l.Sets[images.SetTools]), l.Suite, l.ReleaseDate.Format("2006-01-02 15:04 MST"))
}
