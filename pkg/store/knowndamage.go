package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// damagedName lists the objects (by key, a line each) a writer found
// damaged and has not repaired. CheckObjects trusts an object that
// changed before the catalog was written, and a run commits a catalog
// whether or not it embeds the files of a damaged object (one naming
// other sources does not): without the list, damage that a write made
// and a check found would be trusted from the next commit on. An object
// it lists is read and checked again whatever its time, by CheckObjects
// and by CheckSizes (status), until a check finds it whole or a commit no
// longer names it. The list is a hint outside the catalog's format, as
// checked is: a key too many costs one read, and a rag that does not know
// the file leaves it, so the next check finds what it repaired whole.
const damagedName = "damaged"

// loadKnownDamage reads the list of damaged objects: those of named (the
// catalog's objects whose size is right) become suspect, to be read
// again. No list is the common case: one failed open.
func (s *Local) loadKnownDamage(named map[string]int64) error {
	data, err := os.ReadFile(filepath.Join(s.dir, damagedName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.dmu.Lock()
		defer s.dmu.Unlock()
		s.knownRead = true
		return nil
	case err != nil:
		return fmt.Errorf("open index: read the damaged objects: %w", err)
	}
	var listed []string
	suspect := map[string]bool{}
	for k := range strings.Lines(string(data)) {
		k = strings.TrimSuffix(k, "\n")
		if !validKey(k) {
			continue // a line of a torn list: the time check still holds
		}
		listed = append(listed, k)
		if _, ok := named[k]; ok {
			suspect[k] = true
		}
	}
	slices.Sort(listed)
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.knownListed, s.suspect, s.knownRead = slices.Compact(listed), suspect, true
	return nil
}

// checkSuspects reads back the objects the list names that no check of
// this process has read: a reader (status) reports what a writer found,
// whatever catalog it committed since.
func (s *Local) checkSuspects() error {
	s.dmu.Lock()
	keys := make([]string, 0, len(s.suspect))
	for k := range s.suspect {
		keys = append(keys, k)
	}
	s.dmu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	m := s.Manifest()
	want := map[string]FileEntry{}
	for _, f := range m.Files {
		want[f.Key] = f
	}
	var buf []byte
	for _, k := range keys {
		f, ok := want[k]
		if !ok {
			continue
		}
		var err error
		if buf, err = s.readBackObject(k, f, m.Dims, buf); err != nil {
			return err
		}
	}
	return nil
}

// readBackObject reads the object of key back (into buf, returned for
// reuse) and checks it against its catalog entry f: damaged or whole, it
// is recorded (readBack). Only a failure to read that is no damage is
// returned.
func (s *Local) readBackObject(key string, f FileEntry, dims int, buf []byte) ([]byte, error) {
	buf, err := readSized(s.objectPath(key), f.ObjectSize, buf)
	err = s.goneIfMissing(err)
	var c *CorruptError
	switch {
	case errors.As(err, &c):
	case err != nil:
		return buf, fmt.Errorf("check index objects: %w", err)
	default:
		if cerr := checkObject(buf, f.Chunks, dims); cerr != nil {
			c = &CorruptError{Path: s.objectPath(key), Err: cerr}
		}
	}
	s.readBack(key, c)
	return buf, nil
}

// readBack records that the object of key was read back: damaged (c) or
// whole, it is no longer suspect.
func (s *Local) readBack(key string, c *CorruptError) {
	if c != nil {
		s.noteDamage(key, c)
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	delete(s.suspect, key)
}

// recordDamage makes the list of damaged objects hold those known damaged
// or still suspect among the objects of the catalogs ms (a commit names
// its new catalog and the one it replaces: until the rename, either may
// be the index), durably: a commit writes it before its catalog, so that
// no catalog ever makes a damaged object trusted. It writes nothing while
// the list is as it should be (with no damage, no list and no write).
func (s *Local) recordDamage(ms ...*Manifest) error {
	if s.sized != nil {
		<-s.sized // the list is read by the size check (its error goes to CheckObjects or Close)
	}
	s.dmu.Lock()
	if !s.knownRead || len(s.damaged)+len(s.suspect)+len(s.knownListed) == 0 {
		// Not read (a rebuild, a new index, a size check that failed): a
		// list written now could drop what it holds. Or nothing to list
		// and no list: what every commit of a whole index finds.
		s.dmu.Unlock()
		return nil
	}
	pending := make(map[string]bool, len(s.damaged)+len(s.suspect))
	for k := range s.damaged {
		pending[k] = true
	}
	for k := range s.suspect {
		pending[k] = true
	}
	listed := s.knownListed
	s.dmu.Unlock()
	var want []string
	if len(pending) > 0 {
		for _, m := range ms {
			for _, f := range m.Files {
				if pending[f.Key] {
					want = append(want, f.Key)
					delete(pending, f.Key)
				}
			}
		}
		slices.Sort(want)
	}
	if slices.Equal(want, listed) {
		return nil
	}
	p := filepath.Join(s.dir, damagedName)
	if len(want) == 0 {
		// Not synced: should the list come back, its keys are read once more.
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("record the damaged objects: %w", err)
		}
	} else if err := s.writeFileAtomic(p, []byte(strings.Join(want, "\n")+"\n"), "damaged", true); err != nil {
		return fmt.Errorf("record the damaged objects: %w", err)
	}
	s.dmu.Lock()
	s.knownListed = want
	s.dmu.Unlock()
	return nil
}
