package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// accessMarkName is an empty file written, before the catalog that first
// turns access control on is committed, and never removed: a reader that
// finds it treats any catalog it reads as under access control. A damaged
// catalog is read from its previous copy, which may be older than access
// control (a catalog of format 5 has none); without the mark every file
// of it would be public.
const accessMarkName = "access-control"

// markAccessControl writes the mark, durably, if it is not there.
func (s *Local) markAccessControl() error {
	p := filepath.Join(s.dir, accessMarkName)
	if _, err := os.Lstat(p); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("access control mark: %w", err)
	}
	if err := s.writeFileAtomic(p, nil, "access control mark", true); err != nil {
		return fmt.Errorf("access control mark: %w", err)
	}
	return nil
}

// keepAccessControl turns access control on in the catalog read when the
// index has ever had it (the mark): files its catalog gives to nobody stay
// hidden, fail closed.
func (s *Local) keepAccessControl() {
	if s.manifest.AccessControl {
		return
	}
	if _, err := os.Lstat(filepath.Join(s.dir, accessMarkName)); err == nil {
		s.manifest.AccessControl = true
	}
}
