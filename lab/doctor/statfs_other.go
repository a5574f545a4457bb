//go:build !linux

package doctor

import "errors"

func statfs(string) (FSInfo, error) {
	return FSInfo{}, errors.New("statfs is only implemented on Linux, where kind nodes run")
}
