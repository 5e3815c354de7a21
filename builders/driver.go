package builders

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Driver is all the builder asks of the outside world: fetching a URL and
// running a program. Steps build Commands with pure functions; tests swap
// the Driver to check ordering and cleanup without root or network.
type Driver interface {
	Download(ctx context.Context, url string, w io.Writer, progress func(done int64)) error
	Run(ctx context.Context, c Command) error
}

// Command is one program run.
type Command struct {
	Name string
	Args []string
	Env  []string
	Dir  string
	// Stdin, when set, is fed to the program.
	Stdin io.Reader
	// Tools, when set, is a tools tree: Name is looked up in its bin
	// directories and run through the tree's own dynamic loader, so the
	// build uses the locked tool versions, not the host's.
	Tools string
	// Contained runs the program in mount and PID namespaces of its own:
	// no mount it makes outlives it, and when it dies (even because ostal
	// was killed with -9) the kernel ends every process it started.
	Contained bool
	// Output, when set, receives the program's output as it comes.
	Output io.Writer
}

func (c Command) String() string { return strings.Join(append([]string{c.Name}, c.Args...), " ") }

// ErrNoSpace marks a command that failed because a disk was full.
var ErrNoSpace = errors.New("no space left on device")

// ExecDriver is the real Driver.
type ExecDriver struct {
	HTTP *http.Client
}

func (d *ExecDriver) Download(ctx context.Context, url string, w io.Writer, progress func(int64)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	client := d.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &HTTPStatusError{URL: url, Status: resp.Status, Code: resp.StatusCode}
	}
	_, err = io.Copy(w, &progressReader{r: resp.Body, progress: progress})
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	return nil
}

// HTTPStatusError is a download the server refused.
type HTTPStatusError struct {
	URL, Status string
	Code        int
}

func (e *HTTPStatusError) Error() string { return fmt.Sprintf("download %s: %s", e.URL, e.Status) }

type progressReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.progress != nil {
		p.progress(p.n)
	}
	return n, err
}

func (d *ExecDriver) Run(ctx context.Context, c Command) error {
	name, args, err := c.resolve()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = commandEnv(os.Environ(), c)
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if c.Contained {
		// Unshareflags makes Go mark every mount private before exec, so
		// nothing propagates back to the host.
		cmd.SysProcAttr.Unshareflags = syscall.CLONE_NEWNS
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID
	}
	// On Ctrl-C stop the whole process group (mmdebstrap runs apt and dpkg
	// below it), and kill it if it has not gone within ten seconds.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var tail tailBuffer
	out := io.Writer(&tail)
	if c.Output != nil {
		out = io.MultiWriter(&tail, c.Output)
	}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", c.Name, ctx.Err())
	}
	msg := tail.String()
	if strings.Contains(msg, "No space left on device") {
		err = errors.Join(err, ErrNoSpace)
	}
	return fmt.Errorf("%s failed: %w\n%s", c.String(), err, indent(msg))
}

// resolve finds the program and, for tools-tree programs, wraps it in the
// tree's dynamic loader.
// systemPath is the PATH every command runs with: Debian's own programs.
// A builder's PATH may put other interpreters first (pyenv's shims cost
// 0.8 s a call, and mmdebstrap runs a Python filter for every package),
// and the build must not depend on them.
const systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// commandEnv is the environment c runs with, from the host's.
func commandEnv(host []string, c Command) []string {
	env := make([]string, 0, len(host)+8)
	for _, kv := range host {
		if !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	env = append(append(env, "PATH="+systemPath, "LC_ALL=C.UTF-8"), c.Env...)
	if c.Tools != "" {
		// Tools must not read the host's configuration or time zone:
		// their output would then depend on the host.
		env = append(env, "LC_ALL=C", "TZ=UTC0", "MTOOLS_SKIP_CHECK=1", "MTOOLSRC=/dev/null",
			"GCONV_PATH="+filepath.Join(c.Tools, "usr/lib/x86_64-linux-gnu/gconv"))
	}
	return env
}

func (c Command) resolve() (string, []string, error) {
	if c.Tools == "" {
		return c.Name, c.Args, nil
	}
	for _, dir := range []string{"usr/sbin", "usr/bin"} {
		prog := filepath.Join(c.Tools, dir, c.Name)
		if _, err := os.Stat(prog); err == nil {
			loader := filepath.Join(c.Tools, "usr/lib64/ld-linux-x86-64.so.2")
			libs := filepath.Join(c.Tools, "usr/lib/x86_64-linux-gnu")
			return loader, append([]string{"--library-path", libs, prog}, c.Args...), nil
		}
	}
	return "", nil, fmt.Errorf("%s is not in the tools tree %s: the tools lock set lacks its package", c.Name, c.Tools)
}

// tailBuffer keeps the last lines of a program's output for error messages.
type tailBuffer struct{ b bytes.Buffer }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b.Write(p)
	if t.b.Len() > 64<<10 {
		keep := append([]byte(nil), t.b.Bytes()[t.b.Len()-16<<10:]...)
		t.b.Reset()
		t.b.Write(keep)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	lines := strings.Split(strings.TrimRight(t.b.String(), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
