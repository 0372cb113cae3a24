package eval

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"reflect"
	"testing"
	"testing/fstest"

	"github.com/rag-cli/rag/pkg/retrieve"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		path    string
		format  string
		docs    int
		queries []Query
	}{
		{"beir", "beir", "beir", 4, []Query{
			{ID: "q1", Text: "In what country is Normandy located?", Relevant: []Target{{Path: "Normans_0.md"}}, Answers: []string{"France"}},
			{ID: "q2", Text: "What does complexity theory classify?", Relevant: []Target{{Path: "Computation_0.md"}}, Answers: []string{"computational problems"}},
		}},
		{"squad", "squad.json", "squad", 2, []Query{
			{ID: "a1", Text: "In what country is Normandy located?", Relevant: []Target{{Path: "Normans_0.md"}}, Answers: []string{"France"}},
			{ID: "a2", Text: "Who gave their name to Normandy in the 1000s?", Unanswerable: true},
			{ID: "a3", Text: "Who was the Norse leader?", Relevant: []Target{{Path: "Normans_1.md"}}, Answers: []string{"Rollo"}},
		}},
		{"yaml", "questions.yaml", "questions", 0, []Query{
			{ID: "1", Text: "How many times does the client retry a failed upload?", Relevant: []Target{{Path: "retry.txt", StartLine: 1, EndLine: 4}}, Answers: []string{"three times"}},
			{ID: "2", Text: "What is the capital of Mongolia?", Unanswerable: true},
			{ID: "install", Text: "How do I install on Linux?", Relevant: []Target{{Path: "install.md"}}},
		}},
		{"jsonl", "questions.jsonl", "questions", 0, []Query{
			{ID: "1", Text: "How many times does the client retry a failed upload?", Relevant: []Target{{Path: "retry.txt", StartLine: 3, EndLine: 3}}, Answers: []string{"three", "three times"}},
			{ID: "2", Text: "What is the capital of Mongolia?", Unanswerable: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ds, err := Load(os.DirFS("testdata"), tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Format != tt.format || len(ds.Docs) != tt.docs {
				t.Errorf("format %s with %d docs, want %s with %d", ds.Format, len(ds.Docs), tt.format, tt.docs)
			}
			if !reflect.DeepEqual(ds.Queries, tt.queries) {
				t.Errorf("queries\n%+v\nwant\n%+v", ds.Queries, tt.queries)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"bad.jsonl":         {Data: []byte("{\"question\": \"ok\", \"file\": \"a.md\"}\n{\"question\": \"no target\"}\n")},
		"lines.jsonl":       {Data: []byte(`{"question": "q", "file": "a.md", "lines": "9-3"}`)},
		"unknown.jsonl":     {Data: []byte(`{"question": "q", "fil": "a.md"}`)},
		"both.yaml":         {Data: []byte("- question: q\n  unanswerable: true\n  answer: x\n")},
		"empty.yaml":        {Data: []byte("[]\n")},
		"notes.txt":         {Data: []byte("hello")},
		"broken.json":       {Data: []byte(`{"data": [`)},
		"beir/corpus.jsonl": {Data: []byte(`{"_id": "d", "text": "t"}`)},
	}
	tests := []struct {
		name, path string
		line       int
	}{
		{"question without target", "bad.jsonl", 2},
		{"end before start", "lines.jsonl", 1},
		{"unknown field", "unknown.jsonl", 1},
		{"unanswerable with answer", "both.yaml", 0},
		{"no questions", "empty.yaml", 0},
		{"unknown kind", "notes.txt", 0},
		{"broken squad", "broken.json", 0},
		{"beir without qrels", "beir", 0},
		{"missing", "nope.jsonl", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(fsys, tt.path)
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FormatError
			if tt.line > 0 && (!errors.As(err, &fe) || fe.Line != tt.line) {
				t.Errorf("error %v, want one at line %d", err, tt.line)
			}
		})
	}
}

func TestScore(t *testing.T) {
	t.Parallel()
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	tests := []struct {
		name     string
		found    []int
		relevant int
		want     Scores
	}{
		{"first", []int{0, -1, -1}, 1, Scores{NDCG10: 1, Recall1: 1, Recall5: 1, Recall10: 1, MRR10: 1}},
		{"third", []int{-1, -1, 0}, 1, Scores{NDCG10: 0.5, Recall5: 1, Recall10: 1, MRR10: 1.0 / 3}},
		{"eleventh is past the cut", []int{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0}, 1, Scores{}},
		{"two of two", []int{1, -1, 0}, 2, Scores{NDCG10: (1 + 0.5) / (1 + 1/math.Log2(3)), Recall1: 0.5, Recall5: 1, Recall10: 1, MRR10: 1}},
		{"none", []int{-1, -1}, 1, Scores{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Score(tt.found, tt.relevant)
			g, w := reflect.ValueOf(got), reflect.ValueOf(tt.want)
			for i := range g.NumField() {
				if !near(g.Field(i).Float(), w.Field(i).Float()) {
					t.Errorf("%s = %v, want %v", g.Type().Field(i).Name, g.Field(i).Float(), w.Field(i).Float())
				}
			}
		})
	}
}

func TestFound(t *testing.T) {
	t.Parallel()
	q := Query{Relevant: []Target{{Path: "retry.txt", StartLine: 3, EndLine: 5}, {Path: "docs/b.md"}}}
	results := []retrieve.Result{
		{Root: "/x", Path: "retry.txt", StartLine: 6, EndLine: 9},    // same file, other lines
		{Root: "/x", Path: "retry.txt", StartLine: 1, EndLine: 3},    // overlaps
		{Root: "/x", Path: "retry.txt", StartLine: 4, EndLine: 4},    // overlaps, but already found
		{Root: "/r/docs", Path: "b.md", StartLine: 1, EndLine: 2},    // a longer path ending in the target
		{Root: "/r", Path: "notdocs/b.md", StartLine: 1, EndLine: 2}, // not the same file
	}
	if got, want := Found(q, results), []int{-1, 0, -1, 1, -1}; !reflect.DeepEqual(got, want) {
		t.Errorf("Found = %v, want %v", got, want)
	}
}

func TestSQuADMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pred   string
		gold   []string
		em, f1 float64
	}{
		{"France", []string{"France"}, 1, 1},
		{"the France.", []string{"France"}, 1, 1},
		{"in the 10th and 11th centuries", []string{"10th and 11th centuries", "in the 10th and 11th centuries"}, 1, 1},
		{"Normandy is in France", []string{"France"}, 0, 0.4},
		{"Rollo", []string{"Denmark"}, 0, 0},
		{"", []string{"x"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.pred, func(t *testing.T) {
			t.Parallel()
			if em := ExactMatch(tt.pred, tt.gold); em != tt.em {
				t.Errorf("EM = %v, want %v", em, tt.em)
			}
			if f1 := F1(tt.pred, tt.gold); math.Abs(f1-tt.f1) > 1e-9 {
				t.Errorf("F1 = %v, want %v", f1, tt.f1)
			}
		})
	}
	if got := StripCitations("Normandy is in France [1][2]. It is [3]."); got != "Normandy is in France. It is." {
		t.Errorf("StripCitations = %q", got)
	}
}

func TestSample(t *testing.T) {
	t.Parallel()
	var qs []Query
	for i := range 100 {
		qs = append(qs, Query{ID: string(rune('A' + i))})
	}
	a, b := Sample(qs, 10, 1), Sample(qs, 10, 1)
	if len(a) != 10 || !reflect.DeepEqual(a, b) {
		t.Fatalf("samples differ or wrong size: %v %v", a, b)
	}
	if reflect.DeepEqual(a, Sample(qs, 10, 2)) {
		t.Error("another seed gave the same sample")
	}
	for i := 1; i < len(a); i++ {
		if a[i].ID <= a[i-1].ID {
			t.Error("sample not in original order")
		}
	}
	if len(Sample(qs, 0, 1)) != 100 || len(Sample(qs, 500, 1)) != 100 {
		t.Error("0 or too many must give all")
	}
}

func FuzzQuestions(f *testing.F) {
	for _, name := range []string{"testdata/questions.yaml", "testdata/questions.jsonl"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, name[len(name)-4:] == "yaml")
	}
	f.Fuzz(func(t *testing.T, data []byte, yaml bool) {
		var ds *Dataset
		var err error
		if yaml {
			ds, err = parseQuestionsYAML(data)
		} else {
			ds, err = parseQuestionsJSONL(data)
		}
		if err != nil {
			return
		}
		for _, q := range ds.Queries {
			if q.Text == "" || q.Unanswerable && len(q.Relevant)+len(q.Answers) > 0 {
				t.Fatalf("invalid query accepted: %+v", q)
			}
			for _, r := range q.Relevant {
				if r.EndLine < r.StartLine {
					t.Fatalf("bad range accepted: %+v", r)
				}
			}
		}
	})
}

func FuzzSQuAD(f *testing.F) {
	data, err := os.ReadFile("testdata/squad.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := parseSQuAD(data)
		if err != nil {
			return
		}
		for _, q := range ds.Queries {
			if q.Unanswerable == (len(q.Relevant) > 0) {
				t.Fatalf("relevance and answerability disagree: %+v", q)
			}
		}
	})
}

func TestCorpusFS(t *testing.T) {
	t.Parallel()
	docs := []Doc{{ID: "Normans_0", Title: "Normans", Text: "The Normans."}, {ID: "a/b", Text: "Slash."}}
	fsys := CorpusFS(docs)
	if err := fstest.TestFS(fsys, "Normans_0.md", "a_b.md"); err != nil {
		t.Fatal(err)
	}
	data, err := fs.ReadFile(fsys, "Normans_0.md")
	if err != nil || string(data) != "# Normans\n\nThe Normans.\n" {
		t.Errorf("read %q, %v", data, err)
	}
}
