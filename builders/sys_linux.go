package builders

import (
	"io/fs"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func owner(info fs.FileInfo) (uint32, uint32) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return 0, 0
}

// lchtimes sets a path's times without following a symlink.
func lchtimes(path string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// Whence values of lseek(2) for sparse files.
const (
	seekData = unix.SEEK_DATA
	seekHole = unix.SEEK_HOLE
)
