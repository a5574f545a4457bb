package doctor

import "syscall"

func statfs(path string) (FSInfo, error) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(path, &s); err != nil {
		return FSInfo{}, err
	}
	return FSInfo{Type: int64(s.Type), Avail: s.Bavail * uint64(s.Bsize)}, nil //nolint:unconvert // Statfs_t field types differ between architectures
}
