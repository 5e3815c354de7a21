// Package cli is the ostal command line: one file per subcommand, all
// state in an Env value so tests run commands in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strings"

	"github.com/spf13/viper"
)

// Env is what a command reads and writes: its streams and its settings.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Settings come from OSTAL_* environment variables and an optional
	// ostal.yaml; flags override them.
	Settings *viper.Viper
}

type command struct {
	name, summary string
	run           func(ctx context.Context, env *Env, args []string) error
}

func commands() []command {
	return []command{
		{"validate", "check image specs and report every problem at once", runValidate},
		{"lock", "pin every package of an image to an exact version and checksum", runLock},
		{"updates", "list the packages with newer versions in the archives, security fixes and their CVEs first", runUpdates},
		{"build", "build a bootable, compressed qcow2 from a locked spec", runBuild},
		{"test", "boot an image under libvirt and run named checks against it", runTest},
		{"deploy", "push, swap, roll back and inspect images on a libvirt host", runDeploy},
		{"version", "print the version of ostal", runVersion},
	}
}

// Execute runs ostal with the process's arguments and streams and returns
// the exit code.
func Execute(ctx context.Context) int {
	return Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// Run runs one ostal command line; 0 is success, 1 a failure, 2 bad usage.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Settings: settings()}
	// The Packer SDK's UI also logs every line; ostal's UI is the terminal.
	log.SetOutput(io.Discard)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "ostal %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "ostal: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "ostal builds, boot-tests and deploys immutable VM images.\n\nUsage: ostal <command> [flags] [arguments]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `ostal <command> --help` for a command's flags and examples.")
}

// settings reads OSTAL_CACHE, OSTAL_OUTPUT and OSTAL_PROVISION, and
// ostal.yaml in the working directory if there is one.
func settings() *viper.Viper {
	v := viper.New()
	v.SetEnvPrefix("OSTAL")
	v.AutomaticEnv()
	v.SetDefault("output", "build")
	v.SetDefault("provision", "provision")
	v.SetConfigName("ostal")
	v.SetConfigType("yaml")
	v.AddConfigPath(".")
	_ = v.ReadInConfig() // optional: the defaults and environment suffice
	return v
}

var errUsage = errors.New("usage")

// newFlags makes a subcommand's flag set with a --help that shows examples.
func newFlags(env *Env, name, args, summary string, examples ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		w := env.Stdout
		fmt.Fprintf(w, "Usage: ostal %s [flags] %s\n\n%s\n\nFlags:\n", name, args, summary)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(env.Stderr)
		if len(examples) > 0 {
			fmt.Fprintf(w, "\nExamples:\n  %s\n", strings.Join(examples, "\n  "))
		}
	}
	return fs
}

// parse parses flags; a parse error has already been printed by the flag
// package, so it becomes errUsage (exit 2).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// specArgs returns the spec paths given, or the default image's spec.
func specArgs(fs *flag.FlagSet) []string {
	if fs.NArg() == 0 {
		return []string{"images/utzqanil.yaml"}
	}
	specs := append([]string(nil), fs.Args()...)
	sort.Strings(specs)
	return specs
}
