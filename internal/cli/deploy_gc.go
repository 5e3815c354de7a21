package cli

import (
	"context"
	"fmt"
)

func runDeployGC(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "deploy gc", "ENV --keep N",
		"Remove pushed images (and the domain's overlays on them) beyond the N most recently used. The running\n"+
			"image and the previous one are always kept, and data volumes are never touched.",
		"ostal deploy gc tetaneutral --keep 3")
	keep := fs.Int("keep", 3, "how many images to keep (at least the running and the previous one are kept)")
	asJSON := fs.Bool("json", false, "print what was removed and kept as JSON")
	args, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	d, _, err := connectEnv(ctx, env, fs, args, 1, 1)
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := d.GC(ctx, *keep)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env.Stdout, res)
	}
	for _, v := range res.Removed {
		fmt.Fprintf(env.Stdout, "removed %s\n", v)
	}
	fmt.Fprintf(env.Stdout, "kept %d image(s)\n", len(res.Kept))
	return nil
}
