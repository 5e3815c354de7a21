package cli

import (
	"context"
	"fmt"
)

func runDeployPush(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "deploy push", "ENV [image.qcow2]",
		"Upload an image into the environment's storage pool as a volume named by its sha256. Only the file's data\n"+
			"is sent, with progress; what arrived is read back and checked before the volume gets its name. The pool's\n"+
			"free space is checked first. An image already there is not sent again; an interrupted push starts over.",
		"ostal deploy push tetaneutral                        # build/utzqanil.qcow2",
		"ostal deploy push tetaneutral build/utzqanil.qcow2 --json")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	args, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	d, rest, err := connectEnv(ctx, env, fs, args, 1, 2)
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
	if *asJSON {
		return printJSON(env.Stdout, res)
	}
	if res.Already {
		fmt.Fprintf(env.Stdout, "%s is already in pool %s: nothing sent\n", res.Volume, d.Env.Pool)
		return nil
	}
	fmt.Fprintf(env.Stdout, "pushed %s: %.1f MiB sent in %.1f s\n", res.Volume, float64(res.Sent)/(1<<20), res.Seconds)
	return nil
}
