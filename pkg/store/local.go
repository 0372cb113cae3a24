package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/philippgille/chromem-go"
)

// The local store's layout under its folder:
//
//	manifest.json          the catalog, replaced atomically on every commit
//	objects/ab/abcd….chk   one object file a distinct file content, named
//	                       by its full key, written atomically, never changed
//
// Objects are written before the manifest that names them, so a crash at
// any point leaves the previous manifest with all of its objects; objects
// that no manifest names are removed at the next commit. Vectors are loaded
// into an in-memory chromem-go collection for search.
const manifestName = "manifest.json"

// Local is the embedded, single-machine store.
type Local struct {
	dir string

	mu       sync.Mutex
	manifest Manifest

	loaded bool
	coll   *chromem.Collection
	refs   []chunkRef
}

type chunkRef struct {
	file  int
	start int
	end   int
	text  string
}

// Open opens the index in dir. With create false, a missing index is
// ErrNoIndex; with create true, a missing index is an empty one that is
// written at the first Commit.
func Open(dir string, create bool) (*Local, error) {
	s := &Local{dir: dir}
	p := filepath.Join(dir, manifestName)
	data, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !create {
			return nil, fmt.Errorf("%w at %s", ErrNoIndex, dir)
		}
		s.manifest = Manifest{FormatVersion: FormatVersion}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("open index: %w", err)
	}
	var probe struct {
		FormatVersion int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, &CorruptError{Path: p, Err: err}
	}
	if probe.FormatVersion != FormatVersion {
		return nil, &VersionError{Path: p, Got: probe.FormatVersion}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s.manifest); err != nil {
		return nil, &CorruptError{Path: p, Err: err}
	}
	return s, nil
}

// Manifest implements Store.
func (s *Local) Manifest() Manifest {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.manifest
	m.Files = append([]FileEntry(nil), s.manifest.Files...)
	return m
}

func (s *Local) objectPath(key string) (string, error) {
	if len(key) < 8 || strings.ContainsAny(key, `/\.`) {
		return "", fmt.Errorf("invalid object key %q", key)
	}
	return filepath.Join(s.dir, "objects", key[:2], key+".chk"), nil
}

// PutObject implements Store.
func (s *Local) PutObject(ctx context.Context, key string, chunks []Chunk) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.objectPath(key)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := encodeObject(&buf, chunks); err != nil {
		return fmt.Errorf("encode object %s: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(p, buf.Bytes())
}

func (s *Local) readObject(key string) ([]Chunk, error) {
	p, err := s.objectPath(key)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &CorruptError{Path: p, Err: errors.New("missing")}
		}
		return nil, err
	}
	chunks, err := decodeObject(data)
	if err != nil {
		return nil, &CorruptError{Path: p, Err: err}
	}
	return chunks, nil
}

// Commit implements Store. It writes the manifest atomically, then removes
// objects that it no longer names.
func (s *Local) Commit(ctx context.Context, m Manifest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.FormatVersion = FormatVersion
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("create index folder: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(s.dir, manifestName), data); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	s.mu.Lock()
	s.manifest = m
	s.loaded = false
	s.coll, s.refs = nil, nil
	s.mu.Unlock()
	return s.collectGarbage(m)
}

// collectGarbage removes objects no file of m names, and temporary files
// left by a crash.
func (s *Local) collectGarbage(m Manifest) error {
	live := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		live[f.Key+".chk"] = true
	}
	root := filepath.Join(s.dir, "objects")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || live[d.Name()] {
			return nil
		}
		return os.Remove(p)
	})
	if err != nil {
		return fmt.Errorf("remove unused objects: %w", err)
	}
	return nil
}

// load reads every object the manifest names into a chromem collection.
func (s *Local) load(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	db := chromem.NewDB()
	coll, err := db.CreateCollection("chunks", nil, func(context.Context, string) ([]float32, error) {
		return nil, errors.New("rag stores precomputed embeddings only")
	})
	if err != nil {
		return err
	}
	var refs []chunkRef
	var ids []string
	var vecs [][]float32
	cache := map[string][]Chunk{}
	for fi, f := range s.manifest.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunks, ok := cache[f.Key]
		if !ok {
			chunks, err = s.readObject(f.Key)
			if err != nil {
				return err
			}
			cache[f.Key] = chunks
		}
		for _, c := range chunks {
			if len(c.Vector) != s.manifest.Dims || zero(c.Vector) {
				continue
			}
			ids = append(ids, strconv.Itoa(len(refs)))
			refs = append(refs, chunkRef{file: fi, start: c.StartLine, end: c.EndLine, text: c.Text})
			vecs = append(vecs, c.Vector)
		}
	}
	if len(ids) > 0 {
		if err := coll.Add(ctx, ids, vecs, nil, nil); err != nil {
			return fmt.Errorf("load vectors: %w", err)
		}
	}
	s.coll, s.refs, s.loaded = coll, refs, true
	return nil
}

func zero(v []float32) bool {
	for _, x := range v {
		if x != 0 && !math.IsNaN(float64(x)) {
			return false
		}
	}
	return true
}

// Search implements Store.
func (s *Local) Search(ctx context.Context, vec []float32, k int) ([]Hit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	if k <= 0 || s.coll.Count() == 0 {
		return nil, nil
	}
	if len(vec) != s.manifest.Dims {
		return nil, &ModelMismatchError{IndexModel: s.manifest.EmbedModel, IndexDims: s.manifest.Dims, Model: s.manifest.EmbedModel, Dims: len(vec)}
	}
	k = min(k, s.coll.Count())
	res, err := s.coll.QueryEmbedding(ctx, vec, k, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	hits := make([]Hit, 0, len(res))
	for _, r := range res {
		i, err := strconv.Atoi(r.ID)
		if err != nil || i < 0 || i >= len(s.refs) {
			return nil, fmt.Errorf("vector search returned unknown id %q", r.ID)
		}
		ref := s.refs[i]
		hits = append(hits, Hit{
			File:      s.manifest.Files[ref.file],
			StartLine: ref.start,
			EndLine:   ref.end,
			Text:      ref.text,
			Score:     r.Similarity,
		})
	}
	return hits, nil
}

// Close implements Store.
func (s *Local) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.coll, s.refs, s.loaded = nil, nil, false
	return nil
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so readers see the old or the new file, never a
// torn one.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name()) // best effort: the error that matters is err
		}
	}()
	if _, err = f.Write(data); err != nil {
		return errors.Join(err, f.Close())
	}
	if err = f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
