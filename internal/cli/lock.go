package cli

import (
	"context"
	"flag"
	"fmt"

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

func runLock(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "lock", "[spec.yaml]",
		"Resolve the spec's packages (with Debian's essential set) and the build tools against the mirror,\n"+
			"and write the lock beside the spec: exact versions, .deb sizes and sha256, the mirror's release date.\n"+
			"`ostal build` installs exactly what the lock says.",
		"ostal lock                              # writes images/utzqanil.lock",
		"ostal lock --check                      # exit 1 if the lock no longer matches the spec",
		"ostal lock tests/images/tiny.yaml")
	check := fs.Bool("check", false, "only check that the lock matches the spec; write nothing")
	cache, provision := specFlags(fs, env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(env.Stderr, "ostal lock: one spec at a time")
		return errUsage
	}
	path := specArgs(fs)[0]
	spec, err := images.Load(path)
	if err != nil {
		return err
	}
	if *check {
		l, err := images.ReadLock(images.LockPath(path))
		if err != nil {
			return err
		}
		if err := l.CheckFresh(spec, builders.ToolPackages); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s matches %s\n", l.Path, path)
		return nil
	}
	fmt.Fprintf(env.Stdout, "reading %s %s from %s\n", spec.Suite, spec.Architecture, spec.Mirror)
	archive, err := images.OpenArchive(ctx, *cache, spec)
	if err != nil {
		return err
	}
	if err := images.Validate(spec, *provision, archive.Index); err != nil {
		return err
	}
	l, err := images.MakeLock(ctx, archive, spec, images.LockPath(path), builders.ToolPackages)
	if err != nil {
		return err
	}
	if err := l.WriteFile(l.Path); err != nil {
		return err
	}
	var size int64
	for _, p := range l.Sets[images.SetImage] {
		size += p.Size
	}
	fmt.Fprintf(env.Stdout, "%s: %d image packages (%d MiB of .debs), %d tool packages; Debian %s of %s\n",
		l.Path, len(l.Sets[images.SetImage]), size>>20, len(l.Sets[images.SetTools]), l.Suite, l.ReleaseDate.Format("2006-01-02 15:04 MST"))
	return nil
}
