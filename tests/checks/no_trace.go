package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// no-trace proves that the read-only checks (those without Writes, the
// ones the deployer runs against production) leave what the public sees
// as it was: it notes it before the first check, and compares after the
// read-only checks, before any check that writes (Select's order).
func init() {
	Default.Register(noTraceCheck())
}

func noTraceCheck() Check {
	var mu sync.Mutex
	before := map[Machine]noteTaken{}
	return Check{Name: "no-trace",
		Summary: "the read-only checks leave what the public sees as it was: WordPress's posts, pages, comments, users and uploads; the wiki's pages, revisions, recent changes, log, files and users; the lists, their members and archives; members, their files and calendars",
		Timeout: 2 * time.Minute,
		Before: func(ctx context.Context, m Machine) error {
			st, err := readMachineState(ctx, m)
			mu.Lock()
			defer mu.Unlock()
			before[m] = noteTaken{st, err, time.Now()}
			return err
		},
		Run: func(ctx context.Context, m Machine) error {
			mu.Lock()
			b, ok := before[m]
			delete(before, m)
			mu.Unlock()
			switch {
			case !ok:
				return errors.New("no-trace has nothing to compare with: its Before did not run before the other checks")
			case b.err != nil:
				return fmt.Errorf("before the checks: %w", b.err)
			}
			after, err := readMachineState(ctx, m)
			if err != nil {
				return fmt.Errorf("after the read-only checks: %w", err)
			}
			if diff := b.state.changes(after); len(diff) > 0 {
				return fmt.Errorf("what the public sees changed while the read-only checks ran (in %.0f s); one of them writes and must say so in its Writes:\n  %s",
					time.Since(b.at).Seconds(), strings.Join(diff, "\n  "))
			}
			m.Note("%d facts unchanged over %.0f s of read-only checks", len(after), time.Since(b.at).Seconds())
			return nil
		},
	}
}

// noteTaken is what Before read of a machine.
type noteTaken struct {
	state publicState
	err   error
	at    time.Time
}

// readMachineState reads the public state of the services the machine
// has; a machine without site.json (tiny) has none.
func readMachineState(ctx context.Context, m Machine) (publicState, error) {
	if _, err := m.Run(ctx, "test -e /etc/ostal/site.json"); err != nil {
		return publicState{}, nil
	}
	site, err := siteInfo(ctx, m)
	if err != nil {
		return nil, err
	}
	return readPublicState(ctx, m, site.Services)
}
