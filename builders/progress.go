package builders

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// StepTiming is how long one step took; the manifest records them.
type StepTiming struct {
	Step    string  `json:"step"`
	Seconds float64 `json:"seconds"`
}

type timings struct {
	mu    sync.Mutex
	steps []StepTiming
}

func (t *timings) add(name string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.steps = append(t.steps, StepTiming{Step: name, Seconds: d.Seconds()})
}

func (t *timings) list() []StepTiming {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]StepTiming(nil), t.steps...)
}

// timedStep prints a step's name and duration and records the duration.
type timedStep struct{ step multistep.Step }

// stepName turns *stepFetchDebs into "fetch debs".
func stepName(s multistep.Step) string {
	n := strings.TrimPrefix(reflect.TypeOf(s).Elem().Name(), "step")
	var b strings.Builder
	for i, r := range n {
		// A capital after a small letter starts a word: MakeESP, not Make E S P.
		if i > 0 && r >= 'A' && r <= 'Z' && n[i-1] >= 'a' && n[i-1] <= 'z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

func (t *timedStep) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	name := stepName(t.step)
	ui, _ := keyUI.get(state)
	if ui != nil {
		ui.Say(name)
	}
	start := time.Now()
	action := t.step.Run(ctx, state)
	d := time.Since(start)
	if tm, err := keyTimings.get(state); err == nil {
		tm.add(name, d)
	}
	if ui != nil {
		if raw, failed := state.GetOk("error"); failed && action == multistep.ActionHalt {
			ui.Error(fmt.Sprintf("%s failed after %s: %v", name, d.Round(time.Millisecond), raw))
		} else {
			ui.Message(fmt.Sprintf("done in %s", d.Round(time.Millisecond)))
		}
	}
	return action
}

func (t *timedStep) Cleanup(state multistep.StateBag) { t.step.Cleanup(state) }

// say is a step's progress line; absent UI (tests) it is silent.
func say(state multistep.StateBag, format string, args ...any) {
	if ui, err := keyUI.get(state); err == nil && ui != nil {
		ui.Message(fmt.Sprintf(format, args...))
	}
}

// UI is where a build reports its steps and progress: the part of
// Packer's packersdk.Ui it uses, so that Packer's own Ui serves under the
// plugin and WriterUI from the command line.
type UI interface {
	Say(string)
	Message(string)
	Error(string)
}

// WriterUI prints progress to Out and errors to Err, a line each; lines
// from steps' goroutines do not interleave.
type WriterUI struct {
	Out, Err io.Writer
	mu       sync.Mutex
}

func (u *WriterUI) Say(s string)     { u.line(u.Out, s) }
func (u *WriterUI) Message(s string) { u.line(u.Out, s) }
func (u *WriterUI) Error(s string)   { u.line(u.Err, s) }

func (u *WriterUI) line(w io.Writer, s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fmt.Fprintln(w, s)
}

// humanBytes renders sizes for progress lines.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
