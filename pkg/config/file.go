package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// ProjectFile is the name of a project's config file, found in the working
// directory or the nearest folder above it.
const ProjectFile = ".rag.yaml"

// FileError is a mistake in a config file, with the line it is on.
type FileError struct {
	Path string
	Line int
	Err  error
	// Known lists the valid setting names when the key was unknown.
	Known []string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// ErrUnknownKey is wrapped by a FileError for a setting rag does not know.
var ErrUnknownKey = errors.New("unknown setting")

// File is one parsed config file: the values it sets, by key, and the line
// of each.
type File struct {
	Path   string
	Values map[Key]string
	Lines  map[Key]int
	// Providers are its providers: section, by name (nil without one).
	Providers map[string]Provider
}

// ParseFile reads a config file. Keys rag does not know are an error with
// their line, so a typo is never silently ignored; so are values of the
// wrong type. A relative index path is made relative to the file's folder,
// so a project's .rag.yaml works from any folder below it.
func ParseFile(path string, r io.Reader) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f := &File{Path: path, Values: map[Key]string{}, Lines: map[Key]int{}}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // an empty file sets nothing
		}
		return nil, &FileError{Path: path, Err: err}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return f, nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return nil, &FileError{Path: path, Line: root.Line, Err: errors.New("want settings as `key: value` lines")}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value == KeyProviders {
			if f.Providers != nil {
				return nil, &FileError{Path: path, Line: k.Line, Err: fmt.Errorf("%s is set twice", k.Value)}
			}
			p, err := parseProviders(path, v)
			if err != nil {
				return nil, err
			}
			f.Providers = p
			continue
		}
		spec, ok := specOf(Key(k.Value))
		if !ok {
			return nil, &FileError{Path: path, Line: k.Line, Err: fmt.Errorf("%w %q", ErrUnknownKey, k.Value), Known: Keys()}
		}
		if _, dup := f.Values[spec.key]; dup {
			return nil, &FileError{Path: path, Line: k.Line, Err: fmt.Errorf("%s is set twice", k.Value)}
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return nil, &FileError{Path: path, Line: v.Line, Err: fmt.Errorf("%s: want a %s", k.Value, spec.kind)}
		}
		value := v.Value
		if err := spec.check(value); err != nil {
			return nil, &FileError{Path: path, Line: v.Line, Err: fmt.Errorf("%s: %w", k.Value, err)}
		}
		if isPath(spec.key) && !filepath.IsAbs(value) && !strings.HasPrefix(value, "~") {
			value = filepath.Join(filepath.Dir(path), value)
		}
		f.Values[spec.key], f.Lines[spec.key] = value, v.Line
	}
	return f, nil
}

// UserFile is where the user's config file is: $XDG_CONFIG_HOME/rag/config.yaml,
// else ~/.config/rag/config.yaml; "" when neither variable is set.
func UserFile(env Env) string {
	if v := env("XDG_CONFIG_HOME"); v != "" {
		return filepath.Join(v, "rag", "config.yaml")
	}
	if home := env("HOME"); home != "" {
		return filepath.Join(home, ".config", "rag", "config.yaml")
	}
	return ""
}

// FindProjectFile looks for .rag.yaml in dir and each folder above it and
// returns the first one found, or "" when there is none. stat is os.Stat
// outside tests.
func FindProjectFile(dir string, stat func(string) (fs.FileInfo, error)) (string, error) {
	if dir == "" {
		return "", nil
	}
	dir = filepath.Clean(dir)
	for {
		p := filepath.Join(dir, ProjectFile)
		info, err := stat(p)
		switch {
		case err == nil && !info.IsDir():
			return p, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission):
			return "", fmt.Errorf("look for %s: %w", p, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}
