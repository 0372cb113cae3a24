package store

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// saved reports whether the saved keyword index of s's catalog opens.
func saved(t *testing.T, s *Local) bool {
	t.Helper()
	lex, release, err := s.readKeywords(s.Manifest())
	if err != nil {
		t.Fatal(err)
	}
	if lex == nil {
		return false
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	return true
}

func searchText(t *testing.T, dir, query string) []Hit {
	t.Helper()
	hits, err := openRead(t, dir).SearchText(context.Background(), query, 10)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestSavedKeywords checks that the saved keyword index is used only when
// it is the current catalog's and intact, and that searches give the same
// results either way.
func TestSavedKeywords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	if err := s.PutObject(ctx, key(1), []Chunk{
		{StartLine: 1, EndLine: 2, Heading: "Install", Text: "run make", Vector: vec(4, 0)},
		{StartLine: 3, EndLine: 4, Text: "retry the upload three times", Vector: vec(4, 1)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutObject(ctx, key(2), []Chunk{{StartLine: 1, EndLine: 1, Text: "upload quota", Vector: vec(4, 2)}}); err != nil {
		t.Fatal(err)
	}
	commitFiles(t, s, FileEntry{Root: "/r", Path: "a.md", Key: key(1), Chunks: 2}, FileEntry{Root: "/r", Path: "b.md", Key: key(2), Chunks: 1})
	built := searchText(t, dir, "upload install")
	if len(built) != 3 || built[0].File.Path != "a.md" {
		t.Fatalf("built in memory: %+v", built)
	}
	if saved(t, s) {
		t.Fatal("a keyword index before any was saved")
	}
	if err := s.SaveCaches(ctx); err != nil {
		t.Fatal(err)
	}
	if !saved(t, s) || !s.KeywordsSaved() {
		t.Fatal("saved keyword index not read back")
	}
	if got := searchText(t, dir, "upload install"); !reflect.DeepEqual(got, built) {
		t.Errorf("saved index gives %+v, want %+v", got, built)
	}

	// Damage where the query reads (a term's postings, at the end) is found
	// by the search, which builds the index instead; damage to the header
	// is found when the index is opened.
	p := filepath.Join(dir, keywordsName)
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		at    int
		opens bool
	}{{"postings", len(good) - 2, true}, {"header", len(keywordsMagic) + 32 + 30, false}} {
		t.Run("damaged "+tt.name, func(t *testing.T) {
			data := append([]byte(nil), good...)
			data[tt.at] ^= 0xff
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if saved(t, s) != tt.opens {
				t.Errorf("opens: %v, want %v", !tt.opens, tt.opens)
			}
			// "upload" is the last term: its postings end the file.
			if got := searchText(t, dir, "upload install"); !reflect.DeepEqual(got, built) {
				t.Errorf("with a damaged saved index: %+v, want %+v", got, built)
			}
		})
	}

	// A new catalog makes the saved index stale: ignored until saved again.
	if err := s.SaveCaches(ctx); err != nil {
		t.Fatal(err)
	}
	commitFiles(t, s, FileEntry{Root: "/r", Path: "b.md", Key: key(2), Chunks: 1})
	if saved(t, s) || s.KeywordsSaved() {
		t.Error("a stale keyword index was used")
	}
	if got := searchText(t, dir, "install upload"); len(got) != 1 || got[0].File.Path != "b.md" {
		t.Errorf("after the commit: %+v", got)
	}
	if err := s.SaveCaches(ctx); err != nil {
		t.Fatal(err)
	}
	if !saved(t, s) {
		t.Error("saving again did not refresh it")
	}
}
