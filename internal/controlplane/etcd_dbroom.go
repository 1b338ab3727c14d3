package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// dbTail is the room kept allocated to etcd's database file beyond its end and in
// its holes. bbolt grows the file with a sparse truncate and writes pages into
// it later, so a commit needs new blocks; on a full disk that write fails and etcd
// ends the process. The reserve released on a full disk does not help when the
// writer filling the disk takes it first (a CI run lost etcd so), but blocks that
// belong to the database file are etcd's alone. bbolt grows in steps of up to
// 16 MiB; two steps of room cover what etcd writes with the NOSPACE alarm raised.
const dbTail = 32 << 20

// dbRoom keeps dbTail allocated to etcd's database file.
type dbRoom struct {
	path   string
	sized  int64 // the file size the room was last made for
	failed string
}

func newDBRoom(etcdDir string) *dbRoom {
	return &dbRoom{path: filepath.Join(etcdDir, "member", "snap", "db"), sized: -1}
}

// keep allocates the room again when the database has grown or shrunk (a defrag
// writes a new file). It returns an error once per distinct failure; a missing
// file (etcd not yet started) is none.
func (r *dbRoom) keep() error {
	fi, err := os.Stat(r.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return r.fail(fmt.Errorf("reading etcd's database file: %w", err))
	}
	if fi.Size() == r.sized {
		return nil
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY, 0)
	if err != nil {
		return r.fail(fmt.Errorf("opening etcd's database file to keep room for it: %w", err))
	}
	defer f.Close()
	// KEEP_SIZE: blocks for the holes and past the end, the size bbolt sees unchanged.
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, fi.Size()+dbTail); err != nil {
		return r.fail(fmt.Errorf("keeping %s of room for etcd's database %s: %w", size(dbTail), r.path, err))
	}
	r.sized, r.failed = fi.Size(), ""
	return nil
}

func (r *dbRoom) fail(err error) error {
	if err.Error() == r.failed {
		return nil
	}
	r.failed = err.Error()
	return err
}
