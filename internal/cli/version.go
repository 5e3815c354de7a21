package cli

import (
	"context"
	"fmt"
)

func runVersion(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "version", "", "Print the version and git commit ostal was built from.")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "ostal %s (commit %s)\n", Version, Commit)
	return nil
}
