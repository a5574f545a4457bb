package forge

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// synthTime is the mtime of files the forge writes itself, so layers built
// from the same inputs have the same digest.
var synthTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// layerWriter writes one image layer as a gzip-compressed tar file. It adds
// missing parent folders itself and refuses duplicate names, so a layer
// never depends on extraction order.
type layerWriter struct {
	path, tmp string
	f         *os.File
	gz        *gzip.Writer
	tw        *tar.Writer
	names     map[string]bool
	// regular keeps the headers of regular files, which hard links to
	// them repeat: extraction applies a link's mode to the shared inode.
	regular map[string]tar.Header
	// inodes maps host hard links to the first name written for them.
	inodes map[[2]uint64]string
}

// newLayer starts a layer at path (written to path.tmp until close).
func newLayer(p string, level int) (*layerWriter, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewWriterLevel(f, level)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &layerWriter{path: p, tmp: tmp, f: f, gz: gz, tw: tar.NewWriter(gz),
		names: map[string]bool{}, inodes: map[[2]uint64]string{}, regular: map[string]tar.Header{}}, nil
}

// close finishes the layer and moves it into place.
func (l *layerWriter) close() error {
	err := errors.Join(l.tw.Close(), l.gz.Close(), l.f.Close())
	if err != nil {
		os.Remove(l.tmp)
		return fmt.Errorf("write layer %s: %w", l.path, err)
	}
	return os.Rename(l.tmp, l.path)
}

// abort drops an unfinished layer.
func (l *layerWriter) abort() {
	l.f.Close()
	os.Remove(l.tmp)
}

// cleanName turns "/usr/bin/x" or "usr/bin/x/" into "usr/bin/x".
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (l *layerWriter) has(name string) bool { return l.names[cleanName(name)] }

// parents writes the missing parent folders of name as root-owned 0755.
func (l *layerWriter) parents(name string) error {
	dir := path.Dir(name)
	if dir == "." || l.names[dir] {
		return nil
	}
	if err := l.parents(dir); err != nil {
		return err
	}
	return l.write(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: synthTime}, nil)
}

func (l *layerWriter) write(h *tar.Header, body io.Reader) error {
	name := cleanName(h.Name)
	if name == "" {
		return nil // the root folder itself
	}
	if l.names[name] {
		return fmt.Errorf("layer %s: %s written twice", filepath.Base(l.path), name)
	}
	if err := l.parents(name); err != nil {
		return err
	}
	l.names[name] = true
	h.Name = name
	if h.Typeflag == tar.TypeLink {
		target, ok := l.regular[cleanName(h.Linkname)]
		if !ok {
			return fmt.Errorf("layer %s: hard link %s to %s, which is not a file in the layer", filepath.Base(l.path), name, h.Linkname)
		}
		h.Mode, h.Uid, h.Gid, h.ModTime = target.Mode, target.Uid, target.Gid, target.ModTime
	}
	if h.Typeflag == tar.TypeReg {
		l.regular[name] = tar.Header{Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, ModTime: h.ModTime}
	}
	if h.Typeflag == tar.TypeDir {
		h.Name += "/"
	}
	h.Uname, h.Gname = "", ""
	if err := l.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("layer %s: %s: %w", filepath.Base(l.path), name, err)
	}
	if body != nil {
		if _, err := io.Copy(l.tw, body); err != nil {
			return fmt.Errorf("layer %s: %s: %w", filepath.Base(l.path), name, err)
		}
	}
	return nil
}

// dir adds a root-owned folder.
func (l *layerWriter) dir(name string, mode int64) error {
	return l.write(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: synthTime}, nil)
}

// file adds a root-owned file with the given content.
func (l *layerWriter) file(name string, mode int64, data []byte) error {
	return l.write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: synthTime},
		strings.NewReader(string(data)))
}

// symlink adds a symbolic link name -> target.
func (l *layerWriter) symlink(name, target string) error {
	return l.write(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: synthTime}, nil)
}

// hardlink adds name as a hard link to an entry already in the layer.
func (l *layerWriter) hardlink(name, target string) error {
	return l.write(&tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: cleanName(target)}, nil)
}

// binary adds a root-owned executable copied from a host file.
func (l *layerWriter) binary(name, src string) error { return l.binaryMode(name, src, 0o755) }

// dirOwned adds a folder owned by uid:gid.
func (l *layerWriter) dirOwned(name string, mode int64, uid, gid int) error {
	return l.write(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: gid, ModTime: synthTime}, nil)
}

// binaryMode adds a root-owned file with mode, copied from a host file.
func (l *layerWriter) binaryMode(name, src string, mode int64) error {
	fh, err := os.Open(src)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	return l.write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: st.Size(), ModTime: synthTime}, fh)
}

// hostPath adds the host file, folder or symlink src as name, keeping its
// mode, owner, times, hard links and file capabilities (ping needs them).
// Device nodes, sockets and pipes are skipped: no image needs them.
func (l *layerWriter) hostPath(name, src string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	var link string
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		if link, err = os.Readlink(src); err != nil {
			return err
		}
	case fi.IsDir(), fi.Mode().IsRegular():
	default:
		return nil
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	h.Name = name
	h.Format = tar.FormatPAX
	h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		h.Uid, h.Gid = int(st.Uid), int(st.Gid)
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			ino := [2]uint64{st.Dev, st.Ino}
			if first, ok := l.inodes[ino]; ok {
				return l.write(&tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: first}, nil)
			}
			l.inodes[ino] = cleanName(name)
		}
	}
	if fi.Mode().IsRegular() {
		if capab, err := lgetxattr(src, "security.capability"); err == nil && len(capab) > 0 {
			h.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(capab)}
		}
		fh, err := os.Open(src)
		if err != nil {
			return err
		}
		defer fh.Close()
		return l.write(h, fh)
	}
	return l.write(h, nil)
}

func lgetxattr(p, attr string) ([]byte, error) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, attr, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// treeFilter decides, for a path relative to the tree root ("usr/bin/x"),
// whether to leave it out; for a folder, skipDir leaves out its contents
// but keeps the folder itself.
type treeFilter func(rel string, d fs.DirEntry) (skip, skipContents bool)

// tree adds every entry below root, in lexical order (parents first).
func (l *layerWriter) tree(root string, filter treeFilter) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		skip, skipContents := false, false
		if filter != nil {
			skip, skipContents = filter(rel, d)
		}
		if skip {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if err := l.hostPath(rel, p); err != nil {
			return err
		}
		if skipContents && d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
}
