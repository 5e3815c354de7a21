package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Result is one check's outcome.
type Result struct {
	Check   string  `json:"check"`
	OK      bool    `json:"ok"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
	// Disruptive checks (reboot, swap, stop) do not count towards the time
	// to healthy.
	Disruptive bool `json:"disruptive,omitempty"`
	// Skipped checks are for a service the image does not have.
	Skipped bool     `json:"skipped,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Report is a test run, written as report.json and report.md beside the
// serial console log and the guest's journal.
type Report struct {
	Image       string    `json:"image"`
	ImageSHA256 string    `json:"image_sha256"`
	URI         string    `json:"uri"`
	Firmware    string    `json:"firmware"`
	Accel       string    `json:"accelerator"` // "kvm" or "qemu" (TCG)
	Started     time.Time `json:"started"`
	ReadyAfter  float64   `json:"ready_after_seconds"`
	// HealthyAfter is from domain start to the last non-disruptive check
	// passing: the time to all checks green.
	HealthyAfter float64 `json:"healthy_after_seconds"`
	// ServicesHealthyAfter is from domain start to the guest's own
	// health report (/usr/lib/ostal/health) saying every service is ok;
	// Health is that report's last answer.
	ServicesHealthyAfter float64      `json:"services_healthy_after_seconds,omitempty"`
	Health               []string     `json:"health,omitempty"`
	Screenshots          []Screenshot `json:"screenshots,omitempty"`
	BootError            string       `json:"boot_error,omitempty"`
	Results              []Result     `json:"results"`
	// ConsoleProblems are kernel panics, oopses and failed units seen on
	// the serial console during the run.
	ConsoleProblems []string `json:"console_problems,omitempty"`
	OK              bool     `json:"ok"`
	Dir             string   `json:"dir"`
}

// consoleProblem matches what must never appear on a healthy console.
var consoleProblem = regexp.MustCompile(`(?m)^.*(Kernel panic|Oops:|BUG: |general protection fault|Call Trace:|Failed to start |\[FAILED\]).*$`)

// ConsoleProblems lists the lines of a serial console that mean a broken
// boot: panics, oopses, failed units.
func ConsoleProblems(console string) []string {
	var found []string
	for _, m := range consoleProblem.FindAllString(console, -1) {
		found = append(found, strings.TrimSpace(m))
	}
	return found
}

// finish scans the console, as kola does after every test, and decides.
func (r *Report) finish(console string) {
	r.ConsoleProblems = ConsoleProblems(console)
	r.OK = r.BootError == "" && len(r.ConsoleProblems) == 0 && (len(r.Health) == 0 || r.ServicesHealthyAfter > 0)
	healthy := r.ReadyAfter
	for _, res := range r.Results {
		r.OK = r.OK && res.OK
		if !res.Disruptive {
			healthy += res.Seconds
		}
	}
	r.HealthyAfter = healthy
}

func (r *Report) write() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return os.WriteFile(filepath.Join(r.Dir, "report.md"), []byte(r.Markdown()), 0o644)
}

// Markdown is the short human report.
func (r *Report) Markdown() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.OK {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "# ostal test: %s\n\n", verdict)
	fmt.Fprintf(&b, "- image: `%s` (sha256 `%s`)\n- libvirt: %s, firmware %s, accelerator %s\n", r.Image, r.ImageSHA256, r.URI, r.Firmware, r.Accel)
	fmt.Fprintf(&b, "- ready after %.1f s; all non-disruptive checks green after %.1f s\n", r.ReadyAfter, r.HealthyAfter)
	if len(r.Health) > 0 {
		fmt.Fprintf(&b, "- services healthy after %.1f s (0: never, within the ready timeout)\n\n```\n%s\n```\n",
			r.ServicesHealthyAfter, strings.Join(r.Health, "\n"))
	}
	if r.BootError != "" {
		fmt.Fprintf(&b, "\n## The guest never became ready\n\n```\n%s\n```\n", r.BootError)
	}
	if len(r.Results) > 0 {
		b.WriteString("\n| check | result | seconds | notes |\n|---|---|---|---|\n")
		for _, res := range r.Results {
			result := "ok"
			if res.Skipped {
				result = "skipped"
			}
			if !res.OK {
				result = "FAILED: " + strings.ReplaceAll(res.Error, "\n", " ")
			}
			fmt.Fprintf(&b, "| %s | %s | %.1f | %s |\n", res.Check, result, res.Seconds, strings.Join(res.Notes, "; "))
		}
	}
	if len(r.ConsoleProblems) > 0 {
		fmt.Fprintf(&b, "\n## Problems on the serial console\n\n```\n%s\n```\n", strings.Join(r.ConsoleProblems, "\n"))
	}
	if len(r.Screenshots) > 0 {
		b.WriteString("\n## Front pages\n\n")
		for _, s := range r.Screenshots {
			if s.File != "" {
				fmt.Fprintf(&b, "### %s\n\n![%s](%s)\n\n", s.Name, s.Name, s.File)
			} else {
				fmt.Fprintf(&b, "### %s\n\nno screenshot: %s\n\n", s.Name, s.Error)
			}
		}
	}
	b.WriteString("\nFiles: `serial.log` (console), `journal.txt` (guest journal), `boot-profile.txt` (systemd-analyze: where the boot's time went), `report.json`.\n")
	return b.String()
}
