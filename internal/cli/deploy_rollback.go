package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ostal/ostal/deploy"
)

func runDeployRollback(ctx context.Context, env *Env, args []string) error {
	c := newDeployCmd(env, "rollback", "ENV [--now | --in-window] [--restore-data [--yes]]",
		"Swap back to the previous image, with the same checks and automatic undo as a swap.\n\n"+
			"Without --restore-data, today's data are kept. A service whose data the current image upgraded\n"+
			"(WordPress's or MediaWiki's database, Mailman's) stays down on the older image, which never runs\n"+
			"its upgrade code on a newer schema: its health says so, and the rollback, unhealthy, brings the\n"+
			"current image back. With --restore-data the data volumes go back to the snapshot taken when the\n"+
			"guest stopped for the swap to the current image: everything written since (mail, edits, uploads)\n"+
			"is lost, so the rollback says from when, and asks, unless --yes. Today's data stay in the snapshot\n"+
			"the rollback takes first, until the next swap.",
		1, 1, "ostal deploy rollback tetaneutral --now                      # today's data kept",
		"ostal deploy rollback tetaneutral --now --restore-data       # the data of before the last swap; asks first",
		"ostal deploy rollback tetaneutral --in-window --restore-data --yes")
	mode := modeFlags(c.fs)
	restore := c.fs.Bool("restore-data", false, "put the data volumes back as they were before the swap to the current image (asks first)")
	yes := c.fs.Bool("yes", false, "with --restore-data: do not ask, the loss of what was written since is accepted")
	c.check = func(e *deploy.Environment) error {
		if *yes && !*restore {
			return fmt.Errorf("--yes only confirms --restore-data; without it no data are lost and nothing is asked: drop --yes, or add --restore-data")
		}
		return deploy.CanSwap(e)
	}
	d, _, err := c.connect(ctx, args)
	if err != nil {
		return err
	}
	defer d.Close()
	o := deploy.RollbackOptions{Mode: mode(), RestoreData: *restore}
	if *restore && !*yes {
		o.Confirm = func(l *deploy.DataLoss) bool { return confirmLoss(env.Stdin, env.Stderr, l) }
	}
	if !*restore {
		fmt.Fprintln(env.Stderr, "ostal deploy rollback: today's data are kept. A service whose data the current image upgraded stays down on the "+
			"previous image (its health says which); the rollback is then unhealthy and the current image comes back. "+
			"To take the data back too, run `ostal deploy rollback "+d.Env.Name+" --restore-data` (it says what would be lost and asks first).")
	}
	sw, err := d.RollbackWith(ctx, o)
	return reportSwap(c, sw, err)
}

// confirmLoss says what restoring the data throws away and asks; only
// "yes" confirms (no answer, as from a script without --yes, refuses).
func confirmLoss(in io.Reader, out io.Writer, l *deploy.DataLoss) bool {
	fmt.Fprintf(out, "ostal deploy rollback --restore-data: %s.\nType yes to restore the data of %s and lose what was written since: ",
		l, l.Since.Format("2006-01-02 15:04 MST"))
	if in == nil {
		fmt.Fprintln(out)
		return false
	}
	line, _ := bufio.NewReader(in).ReadString('\n')
	ok := strings.TrimSpace(line) == "yes"
	if !ok {
		fmt.Fprintln(out, "\nnot confirmed: nothing was done (pass --yes to confirm without asking)")
	}
	return ok
}
