package cli

import (
	"context"
	"fmt"

	"github.com/ostal/ostal/internal/buildinfo"
)

func runVersion(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "version", "", "Print the version and git commit ostal was built from.")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "ostal %s (commit %s)\n", buildinfo.Version, buildinfo.Commit)
	return nil
}
