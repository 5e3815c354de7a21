package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ostal/ostal/deploy"
)

// deployCommands are the subcommands of `ostal deploy`, one file each.
func deployCommands() []command {
	return []command{
		{"push", "upload an image into the environment's pool, named by its sha256", runDeployPush},
		{"swap", "make an image the domain's OS, keeping its data; roll back by itself if unhealthy", runDeploySwap},
		{"rollback", "swap back to the previous image", runDeployRollback},
		{"status", "what runs, since when, and how healthy it is", runDeployStatus},
		{"history", "every swap: who, when, from, to, result, downtime", runDeployHistory},
		{"gc", "remove old pushed images, never the running or previous one, never data", runDeployGC},
	}
}

func runDeploy(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(env.Stdout, "Usage: ostal deploy <command> ENV [flags]\n\n"+
			"ENV is a name in deploy/environments/ (tetaneutral) or the path of an environment file.\n\nCommands:")
		for _, c := range deployCommands() {
			fmt.Fprintf(env.Stdout, "  %-9s %s\n", c.name, c.summary)
		}
		fmt.Fprintln(env.Stdout, "\nRun `ostal deploy <command> --help` for its flags and examples.")
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, c := range deployCommands() {
		if c.name == args[0] {
			if err := c.run(ctx, env, args[1:]); err != nil && err != errUsage && err != flag.ErrHelp {
				return fmt.Errorf("%s: %w", c.name, err)
			} else if err != nil {
				return err
			}
			return nil
		}
	}
	fmt.Fprintf(env.Stderr, "ostal deploy: unknown command %q; the commands are push, swap, rollback, status, history, gc\n", args[0])
	return errUsage
}

// parseAll parses flags wherever they stand among the arguments
// (`swap tetaneutral --now` as well as `swap --now tetaneutral`) and
// returns the arguments.
func parseAll(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// connectEnv loads the environment named by the first argument and
// connects to its libvirt.
func connectEnv(ctx context.Context, env *Env, fs *flag.FlagSet, args []string, min, max int) (*deploy.Deployer, []string, error) {
	if len(args) < min || len(args) > max {
		fs.Usage()
		if len(args) < min {
			fmt.Fprintf(env.Stderr, "ostal %s: name the environment (a name in deploy/environments/ or a file)\n", fs.Name())
		} else {
			fmt.Fprintf(env.Stderr, "ostal %s: too many arguments: %s\n", fs.Name(), strings.Join(args[max:], " "))
		}
		return nil, nil, errUsage
	}
	e, err := deploy.LoadEnvironment(args[0])
	if err != nil {
		return nil, nil, err
	}
	d, err := deploy.Connect(ctx, e, deploy.Options{Out: env.Stderr, StopAfter: env.Settings.GetString("test_stop_after")})
	if err != nil {
		return nil, nil, err
	}
	return d, args[1:], nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// imageArg is the image named on the command line, or the environment's.
func imageArg(d *deploy.Deployer, rest []string) (*deploy.Image, error) {
	path := d.Env.Image
	if len(rest) > 0 {
		path = rest[0]
	}
	if !strings.HasSuffix(path, ".qcow2") {
		return nil, fmt.Errorf("%q is not a .qcow2 image; name the image `ostal build` wrote, e.g. build/utzqanil.qcow2", path)
	}
	return deploy.OpenImage(path)
}
