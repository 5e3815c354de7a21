package cli

import (
	"context"
	"fmt"
	"io"
)

func runDeployPush(ctx context.Context, env *Env, args []string) error {
	c := newDeployCmd(env, "push", "ENV [image.qcow2]",
		"Upload an image into the environment's storage pool as a volume named by its sha256. Only the file's data\n"+
			"is sent, with progress, the qcow2 header last; what arrived is read back and checked before the header is\n"+
			"sent. The pool's free space is checked first. An image already there is not sent again; an interrupted\n"+
			"push starts over.",
		1, 2, "ostal deploy push tetaneutral                        # build/utzqanil.qcow2",
		"ostal deploy push tetaneutral build/utzqanil.qcow2 --json")
	d, rest, err := c.connect(ctx, args)
	if err != nil {
		return err
	}
	defer d.Close()
	img, err := imageArg(d, rest)
	if err != nil {
		return err
	}
	res, err := d.Push(ctx, img)
	if err != nil {
		return err
	}
	return c.print(res, func(w io.Writer) {
		if res.Already {
			fmt.Fprintf(w, "%s is already in pool %s: nothing sent\n", res.Volume, d.Env.Pool)
			return
		}
		fmt.Fprintf(w, "pushed %s: %.1f MiB sent in %.1f s\n", res.Volume, float64(res.Sent)/(1<<20), res.Seconds)
	})
}
