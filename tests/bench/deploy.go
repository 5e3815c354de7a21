package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"golang.org/x/crypto/ssh"

	"github.com/ostal/ostal/deploy"
	"github.com/ostal/ostal/internal/cli"
	"github.com/ostal/ostal/internal/virt"
)

// benchDeploy measures `ostal deploy` on this machine's libvirt: a full
// push of image and a second push of it (nothing to send), then the
// downtime of a swap beside a plain reboot to healthy of the same domain,
// each the median of runs. The swaps are between two builds of the
// deployer tests' image (SSH, firewall, DNS): the full image's TLS needs
// an ACME server the guest can reach, which a local environment has not.
func benchDeploy(ctx context.Context, image string, runs int) error {
	dir, err := os.MkdirTemp("", "ostal-bench-deploy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	swapA, swapB, err := buildSwapPair(ctx, dir)
	if err != nil {
		return err
	}
	env, err := benchEnvironment(dir)
	if err != nil {
		return err
	}
	d, err := deploy.Connect(ctx, env, deploy.Options{Out: os.Stderr})
	if err != nil {
		return err
	}
	defer d.Close()
	imgs := map[string]*deploy.Image{}
	for _, p := range []string{image, swapA, swapB} {
		if imgs[p], err = deploy.OpenImage(p); err != nil {
			return err
		}
	}
	var pushFull, pushAgain, sentFull, sentAgain, swap, reboot []float64
	for i := 0; i < runs; i++ {
		fmt.Fprintf(os.Stderr, "deploy %d/%d: push %s\n", i+1, runs, image)
		if _, err := d.GC(ctx, 0); err != nil { // the image must be sent again
			return err
		}
		for _, again := range []bool{false, true} {
			r, err := d.Push(ctx, imgs[image])
			if err != nil {
				return err
			}
			if again {
				pushAgain, sentAgain = append(pushAgain, r.Seconds), append(sentAgain, float64(r.Sent))
			} else {
				pushFull, sentFull = append(pushFull, r.Seconds), append(sentFull, float64(r.Sent))
			}
		}
	}
	if _, err := d.Swap(ctx, imgs[swapA], deploy.Now); err != nil {
		return err
	}
	for i := 0; i < runs; i++ {
		to := []string{swapB, swapA}[i%2]
		fmt.Fprintf(os.Stderr, "deploy %d/%d: swap to %s, then a plain reboot\n", i+1, runs, to)
		sw, err := d.Swap(ctx, imgs[to], deploy.Now)
		if err != nil {
			return err
		}
		took, err := d.Restart(ctx)
		if err != nil {
			return err
		}
		swap, reboot = append(swap, sw.Downtime), append(reboot, took.Seconds())
	}
	const mib = 1 << 20
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "deploy of %s (%.0f MiB) to qemu:///system, median of %d\tfull push\tsecond push\t\n", image, float64(imgs[image].Size)/mib, runs)
	fmt.Fprintf(tw, "time\t%s\t%s\t\n", spread(pushFull, "s", 1, 1), spread(pushAgain, "s", 1, 2))
	fmt.Fprintf(tw, "bytes sent\t%s\t%s\t\n", spread(sentFull, "MiB", mib, 1), spread(sentAgain, "MiB", mib, 1))
	fmt.Fprintf(tw, "without service (%s)\tswap\tplain reboot\tswap/reboot\t\n", filepath.Base(swapA))
	fmt.Fprintf(tw, "(stop to healthy)\t%s\t%s\t%.2f\t\n", spread(swap, "s", 1, 1), spread(reboot, "s", 1, 1), median(swap)/median(reboot))
	if err := tw.Flush(); err != nil {
		return err
	}
	return cleanBench(ctx)
}

// buildSwapPair builds tests/images/deploy.yaml and a rebuild of it with
// one more file: two digests, the same packages.
func buildSwapPair(ctx context.Context, dir string) (string, string, error) {
	spec, err := os.ReadFile("tests/images/deploy.yaml")
	if err != nil {
		return "", "", err
	}
	lock, err := os.ReadFile("tests/images/deploy.lock")
	if err != nil {
		return "", "", err
	}
	next := strings.Replace(string(spec), "name: deploy", "name: deploy-next", 1) +
		"files:\n  - source: tests/variant\n    dest: /etc/ostal-test-variant\n"
	for name, text := range map[string]string{"deploy": string(spec), "deploy-next": next} {
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(dir, name+".lock"), lock, 0o644); err != nil {
			return "", "", err
		}
		var stdout, stderr bytes.Buffer
		if code := cli.Run(ctx, []string{"build", "--output", dir, path}, strings.NewReader(""), &stdout, &stderr); code != 0 {
			return "", "", fmt.Errorf("ostal build %s: exit %d: %s", name, code, stderr.String())
		}
	}
	return filepath.Join(dir, "deploy.qcow2"), filepath.Join(dir, "deploy-next.qcow2"), nil
}

// benchEnvironment is a local environment for the bench's own domain.
func benchEnvironment(dir string) (*deploy.Environment, error) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "ostal bench")
	if err != nil {
		return nil, err
	}
	key := filepath.Join(dir, "key")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	ports := make([]int, 2)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	text := fmt.Sprintf(`uri: qemu:///system
pool: ostal-bench
pool_path: /var/lib/ostal/pools/bench
domain: ostal-bench
accel: qemu
vcpus: 2
memory: 2GiB
data_volumes:
  - name: ostal-data
    size: 4GiB
network:
  mode: user
  forwards: {22: %d, 53: %d}
health:
  ssh_key: %s
  timeout: 20m
  checks: ["ssh"]
`, ports[0], ports[1], key)
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return nil, err
	}
	return deploy.LoadEnvironment(path)
}

// cleanBench removes the bench's domain and every volume of its pool.
func cleanBench(ctx context.Context) error {
	c, err := virt.Dial(ctx, virt.DefaultURI)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Undefine(ctx, "ostal-bench"); err != nil {
		return err
	}
	pool, err := c.LookupPool(ctx, "ostal-bench")
	if err != nil {
		return err
	}
	vols, err := c.Volumes(ctx, pool)
	if err != nil {
		return err
	}
	for _, v := range vols {
		if err := c.DeleteVolume(ctx, pool, v); err != nil {
			return err
		}
	}
	return nil
}
