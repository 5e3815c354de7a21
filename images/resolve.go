package images

import (
	"context"
	"fmt"
	"strings"
)

// MakeLock resolves the spec's packages (with Debian's essential set) and
// the builder's tools against the archive and pins the result.
func MakeLock(ctx context.Context, a *Archive, s *Spec, lockPath string, tools []string) (*Lock, error) {
	l := &Lock{
		Path: lockPath, Suite: s.Suite, Mirror: strings.TrimRight(s.Mirror, "/"), Architecture: s.Architecture, ReleaseDate: a.ReleaseDate,
		Requested: map[string][]string{SetImage: Requests(s.AllPackages()), SetTools: Requests(tools)},
		Sets:      map[string][]Package{},
	}
	for _, src := range a.Sources {
		l.Archives = append(l.Archives, LockedArchive{Suite: src.Suite, URL: src.Mirror, Date: a.Dates[src.Suite]})
	}
	imageNames := append(a.Index.Essential(), l.Requested[SetImage]...)
	for set, names := range map[string][]string{SetImage: imageNames, SetTools: l.Requested[SetTools]} {
		pkgs, err := a.Resolve(ctx, Requests(names))
		if err != nil {
			return nil, &FieldError{File: s.Path, Field: "packages", Problem: fmt.Sprintf("locking the %s set: %v", set, err),
				Hint: "remove or replace the package apt cannot install"}
		}
		l.Sets[set] = pkgs
	}
	return l, nil
}
