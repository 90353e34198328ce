//go:build linux

package backup

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileIdentity says which file, at which content: any write or truncation
// changes its change time, which user space cannot set back.
type fileIdentity struct {
	dev, ino     uint64
	size         int64
	mtime, ctime syscall.Timespec
}

func identityOf(fi os.FileInfo) (fileIdentity, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileIdentity{}, false
	}
	return fileIdentity{dev: uint64(st.Dev), ino: st.Ino, size: st.Size, mtime: st.Mtim, ctime: st.Ctim}, true
}

// startWriteback asks the kernel to start writing [off, off+n) of f to disk
// now, without waiting, so that the fsync at the end finds little left.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
