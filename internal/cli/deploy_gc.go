package cli

import (
	"context"
	"fmt"
	"io"
)

func runDeployGC(ctx context.Context, env *Env, args []string) error {
	c := newDeployCmd(env, "gc", "ENV --keep N",
		"Remove pushed images (and the domain's overlays on them) beyond the N most recently used. The running\n"+
			"image and the previous one are always kept, and data volumes are never touched.",
		1, 1, "ostal deploy gc tetaneutral --keep 3")
	keep := c.fs.Int("keep", 3, "how many images to keep (at least the running and the previous one are kept)")
	d, _, err := c.connect(ctx, args)
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := d.GC(ctx, *keep)
	if err != nil {
		return err
	}
	return c.print(res, func(w io.Writer) {
		for _, v := range res.Removed {
			fmt.Fprintf(w, "removed %s\n", v)
		}
		fmt.Fprintf(w, "kept %d image(s)\n", len(res.Kept))
	})
}
