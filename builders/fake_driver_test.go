package builders

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// fakeDriver records what a step asks of the outside world; hooks play the
// programs' part.
type fakeDriver struct {
	mu        sync.Mutex
	runs      []Command
	downloads []string

	run      func(c Command) error               // optional
	download func(url string, w io.Writer) error // optional
}

var _ Driver = (*fakeDriver)(nil)

func (d *fakeDriver) Run(_ context.Context, c Command) error {
	d.mu.Lock()
	d.runs = append(d.runs, c)
	hook := d.run
	d.mu.Unlock()
	if hook != nil {
		return hook(c)
	}
	return nil
}

func (d *fakeDriver) Download(_ context.Context, url string, w io.Writer, progress func(int64)) error {
	d.mu.Lock()
	d.downloads = append(d.downloads, url)
	hook := d.download
	d.mu.Unlock()
	if hook == nil {
		return fmt.Errorf("fake driver: no download for %s", url)
	}
	return hook(url, w)
}

func (d *fakeDriver) commands() []Command {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Command(nil), d.runs...)
}

// commandLines are the recorded commands as "name args...".
func (d *fakeDriver) commandLines() []string {
	var out []string
	for _, c := range d.commands() {
		out = append(out, c.String())
	}
	return out
}

// names are the recorded programs, in order; a tools tree's dynamic
// loader is "ld.so".
func (d *fakeDriver) names() []string {
	var out []string
	for _, c := range d.commands() {
		name := c.Name
		if strings.HasSuffix(name, "/ld-linux-x86-64.so.2") {
			name = "ld.so"
		}
		out = append(out, name)
	}
	return out
}

// playTools plays dpkg-deb (unpacking every tool program, and GRUB's
// boot.img, into the tree) and the tree's loader listing libraries that
// all come from the tree. It reports whether c was one of those.
func playTools(c Command) (bool, error) {
	switch {
	case c.Name == "dpkg-deb":
		tree := c.Args[2]
		files := map[string][]byte{"usr/lib/grub/i386-pc/boot.img": fakeBootImg()}
		for _, p := range toolPrograms {
			files["usr/bin/"+p] = []byte("#!/bin/false\n")
		}
		for name, b := range files {
			p := filepath.Join(tree, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return true, err
			}
			if err := os.WriteFile(p, b, 0o755); err != nil {
				return true, err
			}
		}
		return true, nil
	case strings.HasSuffix(c.Name, "/usr/lib64/ld-linux-x86-64.so.2") && len(c.Args) > 0 && c.Args[0] == "--list":
		tree := strings.TrimSuffix(c.Name, "/usr/lib64/ld-linux-x86-64.so.2")
		_, err := fmt.Fprintf(c.Output, "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => %s/usr/lib/x86_64-linux-gnu/libc.so.6 (0x00007f01)\n"+
			"\t/lib64/ld-linux-x86-64.so.2 => %s (0x00007f02)\n", tree, c.Name)
		return true, err
	}
	return false, nil
}

func (d *fakeDriver) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.runs, d.downloads = nil, nil
}
