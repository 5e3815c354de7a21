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

// deployCmd is what every deploy subcommand shares: flags anywhere
// among the arguments, --json, the environment and its connection.
type deployCmd struct {
	env      *Env
	fs       *flag.FlagSet
	asJSON   *bool
	min, max int // how many arguments, ENV included
	// check, if set, refuses an environment before connecting.
	check func(*deploy.Environment) error
}

func newDeployCmd(env *Env, name, args, summary string, min, max int, examples ...string) *deployCmd {
	fs := newFlags(env, "deploy "+name, args, summary, examples...)
	return &deployCmd{env: env, fs: fs, asJSON: fs.Bool("json", false, "print the result as JSON"), min: min, max: max}
}

// connect parses the arguments, loads the environment named first and
// connects to its libvirt; it returns the other arguments.
func (c *deployCmd) connect(ctx context.Context, args []string) (*deploy.Deployer, []string, error) {
	args, err := parseAll(c.fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(args) < c.min || len(args) > c.max {
		c.fs.Usage()
		if len(args) < c.min {
			fmt.Fprintf(c.env.Stderr, "ostal %s: name the environment (a name in deploy/environments/ or a file)\n", c.fs.Name())
		} else {
			fmt.Fprintf(c.env.Stderr, "ostal %s: too many arguments: %s\n", c.fs.Name(), strings.Join(args[c.max:], " "))
		}
		return nil, nil, errUsage
	}
	e, err := deploy.LoadEnvironment(args[0])
	if err != nil {
		return nil, nil, err
	}
	if c.check != nil {
		if err := c.check(e); err != nil {
			return nil, nil, err
		}
	}
	d, err := deploy.Connect(ctx, e, deploy.Options{Out: c.env.Stderr, StopAfter: deploy.Step(c.env.Settings.GetString("test_stop_after"))})
	if err != nil {
		return nil, nil, err
	}
	return d, args[1:], nil
}

// print writes v as JSON with --json, else as text.
func (c *deployCmd) print(v any, text func(w io.Writer)) error {
	if *c.asJSON {
		return printJSON(c.env.Stdout, v)
	}
	text(c.env.Stdout)
	return nil
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
