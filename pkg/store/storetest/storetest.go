// Package storetest makes indexes as an older rag left them, for the tests
// of their migration: the binary catalog of format version 5, written as
// that rag wrote it. The encoder here is that rag's, frozen;
// pkg/store/testdata/catalog-v5, which that rag wrote, checks it. It also
// damages stored objects the ways a crash or a bad disk does
// (ObjectDamages), for the tests of repair in every package.
package storetest

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rag-cli/rag/pkg/store"
)

// Catalog5 returns the catalog file of m as a rag of format version 5
// wrote it. What that version cannot hold (tenants, access) is an error,
// not dropped.
func Catalog5(m *store.Manifest) ([]byte, error) {
	if m.AccessControl {
		return nil, errors.New("format 5 has no access control")
	}
	for _, s := range m.Sources {
		if s.Tenant != "" || s.Allow != nil {
			return nil, fmt.Errorf("source %s: format 5 has no tenant or allow", s.Path)
		}
	}
	for _, f := range m.Files {
		if f.Tenant != "" || f.Access != nil {
			return nil, fmt.Errorf("file %s: format 5 has no tenant or access", f.Path)
		}
	}

	var b []byte
	count := func(n int) { b = binary.AppendUvarint(b, uint64(n)) }
	num := func(v int64) { b = binary.AppendVarint(b, v) }
	str := func(s string) { count(len(s)); b = append(b, s...) }
	strs := func(ss []string) {
		count(len(ss))
		for _, s := range ss {
			str(s)
		}
	}
	flag := func(v bool) {
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	at := func(t time.Time) { num(t.Unix()); count(t.Nanosecond()) }

	b = append(b, "RAGM"...)
	b = binary.LittleEndian.AppendUint32(b, 5)
	str(m.EmbedModel)
	num(int64(m.Dims))
	num(int64(m.ChunkTarget))
	num(int64(m.ChunkOverlap))
	str(m.Generation)
	at(m.Created)
	at(m.Updated)

	count(len(m.Sources))
	for _, s := range m.Sources {
		str(s.Path)
		var flags byte
		if s.File {
			flags |= 1
		}
		if s.Hidden {
			flags |= 2
		}
		b = append(b, flags)
		strs(s.Include)
		strs(s.Exclude)
	}

	roots := map[string]int{}
	var order []string
	for _, r := range append(filesRoots(m.Files), problemsRoots(m.Problems)...) {
		if _, ok := roots[r]; !ok {
			roots[r] = len(order)
			order = append(order, r)
		}
	}
	strs(order)

	count(len(m.Files))
	for _, f := range m.Files {
		count(roots[f.Root])
		str(f.Path)
		str(f.Hash)
		str(f.Key)
		num(f.Size)
		num(int64(f.Chunks))
		num(f.ObjectSize)
		at(f.IndexedAt)
		str(f.Format)
		if len(f.Meta) == 0 {
			str("")
		} else {
			meta, err := json.Marshal(f.Meta)
			if err != nil {
				return nil, fmt.Errorf("metadata of %s: %w", f.Path, err)
			}
			str(string(meta))
		}
		if f.Seen == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		num(f.Seen.Size)
		num(f.Seen.MTime)
		num(f.Seen.CTime)
		b = binary.AppendUvarint(b, f.Seen.Inode)
		num(f.Seen.ReadAt)
	}

	count(len(m.Problems))
	for _, p := range m.Problems {
		count(roots[p.Root])
		str(p.Path)
		str(p.Reason)
		flag(p.Failed)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

func filesRoots(files []store.FileEntry) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Root
	}
	return out
}

func problemsRoots(problems []store.Problem) []string {
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = p.Root
	}
	return out
}

// ToFormat5 turns the index in dir into one as a rag of format version 5
// left it: its current catalog written again in that format, and no
// previous catalog. It returns that catalog, of version 5.
func ToFormat5(dir string) (store.Manifest, error) {
	m, err := store.ReadManifest(dir)
	if err != nil {
		return store.Manifest{}, err
	}
	m.FormatVersion = 5
	data, err := Catalog5(&m)
	if err != nil {
		return store.Manifest{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "catalog"), data, 0o644); err != nil {
		return store.Manifest{}, err
	}
	if err := os.Remove(filepath.Join(dir, "catalog.prev")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return store.Manifest{}, err
	}
	return m, nil
}
