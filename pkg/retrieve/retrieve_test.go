package retrieve

import (
	"reflect"
	"testing"
)

func TestTerms(t *testing.T) {
	t.Parallel()
	got := Terms("How do I install RAG on Linux? It's 2 easy.")
	want := []string{"install", "rag", "linux", "easy"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Terms = %v, want %v", got, want)
	}
}

func TestEvidence(t *testing.T) {
	t.Parallel()
	results := []Result{
		{Path: "install.md", Score: 0.6, Text: "Installation on Linux: make install."},
		{Path: "cooking.md", Score: 0.5, Text: "Boil the pasta."},
		{Path: "low.md", Score: 0.1, Text: "install install install"},
	}
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"shared stem", "installing rag", []string{"install.md", "low.md"}},
		{"nothing shared", "who won the world cup", nil},
		{"stopwords only", "what is the", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, r := range Evidence(tt.query, results, 0) {
				got = append(got, r.Path)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Evidence = %v, want %v", got, tt.want)
			}
		})
	}
	if got := Evidence("install", results, 0.3); len(got) != 1 || got[0].Path != "install.md" {
		t.Errorf("floor 0.3 kept %v", got)
	}
}
