package builders

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ucfHashfile is where ucf keeps the md5 of each conffile as its package
// generated it, to tell a local edit from the package's version at the
// next upgrade.
const ucfHashfile = "var/lib/ucf/hashfile"

// pinUcfHashes gives each file in ucf's hashfile the md5 of the file as it
// is in the image. Mailman's packages generate their conffiles with random
// passwords at install, so the hashes the install left differed from
// build to build (and described files the image replaced); the image's
// files are the ones ucf should take as unmodified. Lines for files that
// are not in the tree are kept as they are.
func pinUcfHashes(root string) error {
	path := filepath.Join(root, ucfHashfile)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read ucf's hashfile: %w", err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		sum, file, ok := strings.Cut(line, "  ")
		if ok && len(sum) == 32 && strings.HasPrefix(file, "/") {
			if content, err := os.ReadFile(filepath.Join(root, file)); err == nil {
				h := md5.Sum(content)
				line = hex.EncodeToString(h[:]) + "  " + file
			}
		}
		out.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read ucf's hashfile: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("read ucf's hashfile: %w", err)
	}
	tmp := path + ".ostal-tmp"
	if err := os.WriteFile(tmp, out.Bytes(), info.Mode().Perm()); err != nil {
		return fmt.Errorf("write ucf's hashfile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write ucf's hashfile: %w", err)
	}
	return nil
}
