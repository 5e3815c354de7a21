package deploy

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress prints a transfer's bytes, rate and time left, at most a few
// times a second, on one line that rewrites itself.
type progress struct {
	mu sync.Mutex
	w  io.Writer
	// tty rewrites one line; a log gets a line at each quarter.
	tty   bool
	shown int64
	what  string
	total int64
	done  int64
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, what string, total int64) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, what: what, total: total, start: time.Now()}
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if !p.tty {
		if p.total > 0 && p.done < p.total && 4*p.done/p.total > 4*p.shown/p.total {
			p.shown = p.done
			fmt.Fprintln(p.w, progressLine(p.what, p.done, p.total, time.Since(p.start)))
		}
		return
	}
	if time.Since(p.last) < 500*time.Millisecond && p.done < p.total {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r%s", progressLine(p.what, p.done, p.total, time.Since(p.start)))
}

// reset starts the count again, for a transfer that starts over.
func (p *progress) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.shown, p.start = 0, 0, time.Now()
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := progressLine(p.what, p.done, p.total, time.Since(p.start))
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\n", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// progressLine is "upload  312.0/526.0 MiB  59%  41.2 MiB/s  ETA 5s".
func progressLine(what string, done, total int64, elapsed time.Duration) string {
	const mib = 1 << 20
	pct, rate := 100.0, 0.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	eta := "-"
	if rate > 0 && done < total {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	} else if done >= total {
		eta = "done in " + elapsed.Round(100*time.Millisecond).String()
	}
	return fmt.Sprintf("%s %7.1f/%.1f MiB %3.0f%% %6.1f MiB/s  ETA %s   ", what, float64(done)/mib, float64(total)/mib, pct, rate/mib, eta)
}
