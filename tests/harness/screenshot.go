package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Screenshot is one site's front page as headless Chromium drew it.
type Screenshot struct {
	Name  string `json:"name"`
	File  string `json:"file,omitempty"`
	Error string `json:"error,omitempty"`
}

// screenshots draws the front page of every web name into the report
// folder, so a person can look at what the image serves. Chromium
// resolves the names to the guest's forward and, since the local CA is
// not one it knows, skips certificate checks: tls.chains checks those.
func screenshots(ctx context.Context, dir string, names []string, httpsAddr string) []Screenshot {
	browser := ""
	for _, b := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(b); err == nil {
			browser = p
			break
		}
	}
	var shots []Screenshot
	for _, name := range names {
		s := Screenshot{Name: name}
		if browser == "" {
			s.Error = "no Chromium on this host (make test-packages installs Debian's chromium)"
			shots = append(shots, s)
			continue
		}
		file := "screenshot-" + strings.ReplaceAll(name, ".", "_") + ".png"
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		profile, _ := os.MkdirTemp("", "ostal-chromium-")
		cmd := exec.CommandContext(cctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
			"--no-first-run", "--disable-extensions", "--user-data-dir="+profile,
			"--window-size=1280,900", "--ignore-certificate-errors",
			"--host-resolver-rules="+resolverRules(names, httpsAddr),
			"--screenshot="+filepath.Join(dir, file), "https://"+name+"/")
		// Chromium's helpers share its output: without a process group
		// and a wait limit, a hung renderer would outlive the timeout.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // stray helpers
		}
		cancel()
		os.RemoveAll(profile)
		if _, statErr := os.Stat(filepath.Join(dir, file)); err != nil || statErr != nil {
			s.Error = fmt.Sprintf("chromium: %v: %s", err, lastLine(string(out)))
		} else {
			s.File = file
		}
		shots = append(shots, s)
	}
	return shots
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// resolverRules sends every name (a redirect from one to another too) to
// the guest's forwarded HTTPS port.
func resolverRules(names []string, httpsAddr string) string {
	rules := make([]string, len(names))
	for i, n := range names {
		rules[i] = fmt.Sprintf("MAP %s:443 %s", n, httpsAddr)
	}
	return strings.Join(rules, ",")
}
