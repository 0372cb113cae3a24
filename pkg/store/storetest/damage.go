package storetest

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rag-cli/rag/pkg/store"
)

// ObjectDamage is a way a crash or a bad disk damages a stored object
// file.
type ObjectDamage struct {
	Name   string
	Damage func(path string) error
	// BySize: a stat finds it (the file is gone or shorter); else only
	// reading it back against its checksum does.
	BySize bool
}

// ObjectDamages are the ways a stored object is damaged that the tests of
// damage go through: a repair must handle each.
var ObjectDamages = []ObjectDamage{
	{"flipped bytes", func(p string) error {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, i := range []int{30, 31, 60} {
			data[i] ^= 0xff
		}
		return os.WriteFile(p, data, 0o644)
	}, false},
	{"deleted", os.Remove, true},
	{"truncated", func(p string) error {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(p, data[:len(data)-3], 0o644)
	}, true},
}

// Object is the object file that holds the chunks of the file at path
// (as the catalog records it) in the index at dir, and how many chunks
// it holds.
func Object(dir, path string) (string, int, error) {
	m, err := store.ReadManifest(dir)
	if err != nil {
		return "", 0, err
	}
	for _, f := range m.Files {
		if f.Path == path {
			return filepath.Join(dir, "objects", f.Key[:2], f.Key+".chk"), f.Chunks, nil
		}
	}
	return "", 0, fmt.Errorf("%s is not indexed", path)
}
