package builders

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Python's packages are byte-compiled by their maintainer scripts, and a
// timestamp .pyc (PEP 552) holds its source's mtime and size. Stamping
// every file with the lock's time changes each source's mtime, so without
// this every .pyc in the image would be stale: each Python process in the
// guest would compile every module it imports again, at every start (the
// non-root services cannot write the result back). Under software
// emulation that was most of the lists service's start-up. restampBytecode
// runs before the stamp and moves each .pyc that is valid for its source
// now to the stamp's time, so that it stays valid; one that is stale
// already stays as it is.

const pycHeaderLen = 16

// bytecodeStamp counts what restampBytecode did.
type bytecodeStamp struct{ kept, stale, hashed int }

// restampBytecode rewrites the source mtime of every valid timestamp .pyc
// under root to epoch.
func restampBytecode(root string, epoch time.Time) (bytecodeStamp, error) {
	var n bytecodeStamp
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() || !strings.HasSuffix(p, ".pyc") || filepath.Base(filepath.Dir(p)) != "__pycache__" {
			return nil
		}
		switch r, err := restampPyc(p, pycSource(p), epoch); {
		case err != nil:
			return err
		case r == pycKept:
			n.kept++
		case r == pycStale:
			n.stale++
		case r == pycHashed:
			n.hashed++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("keep Python's bytecode valid: %w", err)
	}
	return n, nil
}

// pycSource is the source of DIR/__pycache__/NAME.TAG[.opt-N].pyc:
// DIR/NAME.py (a module's name has no dot).
func pycSource(pyc string) string {
	name, _, _ := strings.Cut(filepath.Base(pyc), ".")
	return filepath.Join(filepath.Dir(filepath.Dir(pyc)), name+".py")
}

type pycResult int

const (
	pycKept   pycResult = iota // valid for its source, now for the stamped source
	pycStale                   // no source, or compiled from another version of it
	pycHashed                  // hash-based: no time in it to change
)

// restampPyc moves one .pyc's recorded source mtime to epoch if it is
// valid for src as src is now.
func restampPyc(pyc, src string, epoch time.Time) (pycResult, error) {
	f, err := os.OpenFile(pyc, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var h [pycHeaderLen]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return pycStale, nil // too short to be bytecode Python would use
	}
	if binary.LittleEndian.Uint32(h[4:8]) != 0 {
		return pycHashed, nil
	}
	si, err := os.Stat(src)
	if err != nil || !si.Mode().IsRegular() {
		return pycStale, nil
	}
	// Python compares the low 32 bits of both.
	if binary.LittleEndian.Uint32(h[8:12]) != uint32(si.ModTime().Unix()) ||
		binary.LittleEndian.Uint32(h[12:16]) != uint32(si.Size()) {
		return pycStale, nil
	}
	var mt [4]byte
	binary.LittleEndian.PutUint32(mt[:], uint32(epoch.Unix()))
	if _, err := f.WriteAt(mt[:], 8); err != nil {
		return 0, fmt.Errorf("%s: %w", pyc, err)
	}
	return pycKept, f.Close()
}
