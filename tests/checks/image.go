package checks

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ImageSecrets reads an image file, without booting or mounting it, and
// lists every secret in its root filesystem: private keys, SSH host keys,
// a machine-id, password hashes. It expands a copy to raw with qemu-img
// and reads the filesystem with debugfs.
func ImageSecrets(ctx context.Context, image string) ([]string, error) {
	tmp, err := os.MkdirTemp("", "ostal-no-secrets-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	raw := filepath.Join(tmp, "disk.raw")
	if out, err := exec.CommandContext(ctx, "qemu-img", "convert", "-O", "raw", image, raw).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("expand %s: %v: %s", image, err, out)
	}
	offset, err := rootPartitionOffset(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	tree := filepath.Join(tmp, "tree")
	if err := os.Mkdir(tree, 0o700); err != nil {
		return nil, err
	}
	dirs := []string{"/etc", "/root", "/var/lib", "/srv", "/home", "/boot"}
	for _, d := range dirs {
		cmd := exec.CommandContext(ctx, "debugfs", "-R", "rdump "+d+" "+tree, fmt.Sprintf("%s?offset=%d", raw, offset))
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("read %s from %s: %v: %s", d, image, err, out)
		}
	}
	return scanTree(tree)
}

func scanTree(tree string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(tree, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel := strings.TrimPrefix(p, tree)
		switch {
		case strings.HasPrefix(rel, "/etc/ssh/ssh_host_"):
			found = append(found, rel+": an SSH host key")
			return nil
		case rel == "/etc/machine-id" || rel == "/var/lib/dbus/machine-id":
			if info, _ := e.Info(); info != nil && info.Size() > 0 {
				found = append(found, rel+": a machine-id")
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
			found = append(found, rel+": a private key")
		}
		if rel == "/etc/shadow" || rel == "/etc/gshadow" {
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Split(line, ":")
				if len(f) > 1 && strings.HasPrefix(strings.TrimLeft(f[1], "!"), "$") {
					found = append(found, rel+": a password hash for "+f[0])
				}
			}
		}
		return nil
	})
	return found, err
}

// rootPartitionOffset finds the Linux x86-64 root partition in the GPT of
// a raw disk and returns its byte offset.
func rootPartitionOffset(raw string) (int64, error) {
	f, err := os.Open(raw)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	hdr := make([]byte, 512)
	if _, err := f.ReadAt(hdr, 512); err != nil || string(hdr[:8]) != "EFI PART" {
		return 0, fmt.Errorf("no GPT partition table")
	}
	entriesLBA := int64(binary.LittleEndian.Uint64(hdr[72:]))
	count := binary.LittleEndian.Uint32(hdr[80:])
	size := binary.LittleEndian.Uint32(hdr[84:])
	// 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, as GPT stores it.
	rootType := []byte{0xe3, 0xbc, 0x68, 0x4f, 0xcd, 0xe8, 0xb1, 0x4d, 0x96, 0xe7, 0xfb, 0xca, 0xf9, 0x84, 0xb7, 0x09}
	entry := make([]byte, size)
	for i := uint32(0); i < count; i++ {
		if _, err := f.ReadAt(entry, entriesLBA*512+int64(i*size)); err != nil {
			return 0, fmt.Errorf("read partition entry %d: %w", i, err)
		}
		if bytes.Equal(entry[:16], rootType) {
			return int64(binary.LittleEndian.Uint64(entry[32:])) * 512, nil
		}
	}
	return 0, fmt.Errorf("no Linux root partition in the GPT")
}
