package ingest

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
)

func TestWalk(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"README.md":          {Data: []byte("# Hello\n")},
		"src/main.go":        {Data: []byte("package main\n")},
		".git/config":        {Data: []byte("[core]\n")},
		".hidden/notes.md":   {Data: []byte("secret\n")},
		"docs/.draft.md":     {Data: []byte("draft\n")},
		"docs/guide.txt":     {Data: []byte("guide\n")},
		"big.txt":            {Data: make([]byte, 2048)},
		"docs/sub/deep.md":   {Data: []byte("deep\n")},
		"docs/sub/image.png": {Data: []byte("\x89PNG\x00\x00")},
	}
	files, skips, err := Walk(context.Background(), fsys, Options{MaxSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	want := []string{"README.md", "docs/guide.txt", "docs/sub/deep.md", "docs/sub/image.png", "src/main.go"}
	if len(got) != len(want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("files = %v, want %v", got, want)
		}
	}
	reasons := map[string]string{}
	for _, s := range skips {
		reasons[s.Path] = s.Reason
	}
	if reasons["docs/.draft.md"] != "hidden" {
		t.Errorf("hidden file not skipped as hidden: %v", reasons)
	}
	if reasons["big.txt"] == "" {
		t.Errorf("big file not skipped: %v", reasons)
	}
	if _, ok := reasons[".git/config"]; ok {
		t.Errorf(".git was entered: %v", reasons)
	}
}

func TestWalkCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Walk(ctx, fstest.MapFS{"a.md": {Data: []byte("a")}}, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"text.md":  {Data: []byte("\xef\xbb\xbfhello\n")},
		"bin.dat":  {Data: []byte("ab\x00cd")},
		"latin1":   {Data: []byte("caf\xe9\n")},
		"empty.md": {Data: nil},
	}
	tests := []struct {
		name    string
		want    string
		notText bool
	}{
		{"text.md", "hello\n", false},
		{"bin.dat", "", true},
		{"latin1", "", true},
		{"empty.md", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Read(fsys, tt.name)
			if tt.notText {
				if !errors.Is(err, ErrNotText) {
					t.Fatalf("err = %v, want ErrNotText", err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("Read = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
