// Package eval measures rag: it reads evaluation sets (BEIR folders, SQuAD
// JSON, a user's own questions), scores retrieval runs with the usual IR
// metrics (nDCG@10, Recall@k, MRR@10) and answers with SQuAD's exact match
// and F1, abstention and citation checks, so that every retrieval change is
// judged by a number.
package eval

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Doc is one document of a corpus.
type Doc struct {
	ID    string
	Title string
	Text  string
}

// Target is where the answer to a question is: a file (a corpus document,
// or a file of the user's index) and, optionally, a line range in it.
type Target struct {
	Path      string `json:"path"`
	StartLine int    `json:"start_line,omitempty"`
	EndLine   int    `json:"end_line,omitempty"`
}

// Query is one question with what a good system finds and answers.
type Query struct {
	ID   string
	Text string
	// Relevant are the places that answer it; none for an unanswerable
	// question or one with answers only.
	Relevant []Target
	// Answers are the accepted answers; none when unknown.
	Answers []string
	// Unanswerable is true when the documents do not hold the answer.
	Unanswerable bool
}

// Dataset is a corpus (nil for a user's questions, which run against an
// existing index) and its questions.
type Dataset struct {
	// Format is "beir", "squad" or "questions".
	Format  string
	Docs    []Doc
	Queries []Query
}

// docPath is the file name a corpus document is indexed under, so that
// results map back to document ids.
func docPath(id string) string {
	return strings.NewReplacer("/", "_", "\\", "_", "\x00", "_").Replace(id) + ".md"
}

// docText is what is indexed for a document: its title as a heading, so
// that the chunker keeps it with the text, then the text.
func docText(d Doc) string {
	if d.Title == "" {
		return d.Text + "\n"
	}
	return "# " + d.Title + "\n\n" + d.Text + "\n"
}

// Load reads the evaluation set at name in fsys: a BEIR folder (with
// corpus.jsonl), a SQuAD JSON file, or a questions file (.jsonl, .yaml,
// .yml).
func Load(fsys fs.FS, name string) (*Dataset, error) {
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return loadBEIR(fsys, name)
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".json":
		return parseSQuAD(data)
	case ".jsonl", ".ndjson":
		return parseQuestionsJSONL(data)
	case ".yaml", ".yml":
		return parseQuestionsYAML(data)
	}
	return nil, fmt.Errorf("%s: not an evaluation set (want a BEIR folder, SQuAD .json, or questions .jsonl/.yaml)", name)
}

// FormatError is an evaluation file that cannot be read, with its line.
type FormatError struct {
	File string
	Line int
	Err  error
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}
func (e *FormatError) Unwrap() error { return e.Err }

// jsonLines calls fn with each non-blank line of r.
func jsonLines(r io.Reader, file string, fn func(line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return &FormatError{File: file, Line: n, Err: err}
		}
	}
	if err := sc.Err(); err != nil {
		return &FormatError{File: file, Err: err}
	}
	return nil
}

func loadBEIR(fsys fs.FS, dir string) (*Dataset, error) {
	ds := &Dataset{Format: "beir"}
	open := func(name string, fn func([]byte) error) error {
		f, err := fsys.Open(path.Join(dir, name))
		if err != nil {
			return err
		}
		err = jsonLines(f, name, fn)
		return errors.Join(err, f.Close())
	}
	err := open("corpus.jsonl", func(line []byte) error {
		var d struct {
			ID    string `json:"_id"`
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if err := json.Unmarshal(line, &d); err != nil {
			return err
		}
		if d.ID == "" {
			return errors.New("document without _id")
		}
		ds.Docs = append(ds.Docs, Doc{ID: d.ID, Title: d.Title, Text: d.Text})
		return nil
	})
	if err != nil {
		return nil, err
	}
	qrels, err := readQrels(fsys, dir)
	if err != nil {
		return nil, err
	}
	err = open("queries.jsonl", func(line []byte) error {
		var q struct {
			ID       string `json:"_id"`
			Text     string `json:"text"`
			Metadata struct {
				Answers []string `json:"answers"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(line, &q); err != nil {
			return err
		}
		rel := qrels[q.ID]
		if len(rel) == 0 {
			return nil // BEIR: a query without judgements is not part of the split
		}
		query := Query{ID: q.ID, Text: q.Text, Answers: q.Metadata.Answers}
		for _, id := range rel {
			query.Relevant = append(query.Relevant, Target{Path: docPath(id)})
		}
		ds.Queries = append(ds.Queries, query)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// readQrels reads qrels/test.tsv, else the only .tsv in qrels: query id ->
// relevant document ids (score > 0), in file order.
func readQrels(fsys fs.FS, dir string) (map[string][]string, error) {
	name := path.Join(dir, "qrels", "test.tsv")
	if _, err := fs.Stat(fsys, name); err != nil {
		matches, _ := fs.Glob(fsys, path.Join(dir, "qrels", "*.tsv"))
		if len(matches) != 1 {
			return nil, fmt.Errorf("%s: want qrels/test.tsv or one qrels/*.tsv, found %d", dir, len(matches))
		}
		name = matches[0]
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = '\t'
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	out := map[string][]string{}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &FormatError{File: name, Line: line, Err: err}
		}
		if len(rec) < 3 {
			return nil, &FormatError{File: name, Line: line, Err: errors.New("want query-id, corpus-id, score")}
		}
		score, err := strconv.ParseFloat(strings.TrimSpace(rec[len(rec)-1]), 64)
		if err != nil {
			if line == 1 {
				continue // the header
			}
			return nil, &FormatError{File: name, Line: line, Err: err}
		}
		if score > 0 {
			q, d := rec[0], rec[len(rec)-2]
			if !slices.Contains(out[q], d) {
				out[q] = append(out[q], d)
			}
		}
	}
	return out, nil
}

func parseSQuAD(data []byte) (*Dataset, error) {
	var sq struct {
		Data []struct {
			Title      string `json:"title"`
			Paragraphs []struct {
				Context string `json:"context"`
				QAs     []struct {
					ID       string `json:"id"`
					Question string `json:"question"`
					Answers  []struct {
						Text string `json:"text"`
					} `json:"answers"`
					Impossible bool `json:"is_impossible"`
				} `json:"qas"`
			} `json:"paragraphs"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &sq); err != nil {
		return nil, &FormatError{File: "SQuAD JSON", Err: err}
	}
	if len(sq.Data) == 0 {
		return nil, &FormatError{File: "SQuAD JSON", Err: errors.New("no data")}
	}
	ds := &Dataset{Format: "squad"}
	for _, art := range sq.Data {
		for i, p := range art.Paragraphs {
			// The ids BEIR's conversion of SQuAD uses, so both layouts agree.
			id := fmt.Sprintf("%s_%d", art.Title, i)
			ds.Docs = append(ds.Docs, Doc{ID: id, Title: strings.ReplaceAll(art.Title, "_", " "), Text: p.Context})
			for _, qa := range p.QAs {
				q := Query{ID: qa.ID, Text: qa.Question, Unanswerable: qa.Impossible}
				if !qa.Impossible {
					q.Relevant = []Target{{Path: docPath(id)}}
				}
				for _, a := range qa.Answers {
					if !slices.Contains(q.Answers, a.Text) {
						q.Answers = append(q.Answers, a.Text)
					}
				}
				ds.Queries = append(ds.Queries, q)
			}
		}
	}
	return ds, nil
}

// question is one entry of a user's questions file.
type question struct {
	ID       string   `json:"id" yaml:"id"`
	Question string   `json:"question" yaml:"question"`
	File     string   `json:"file" yaml:"file"`
	Lines    string   `json:"lines" yaml:"lines"`
	Answer   string   `json:"answer" yaml:"answer"`
	Answers  []string `json:"answers" yaml:"answers"`
	// Unanswerable marks a question the documents must not answer.
	Unanswerable bool `json:"unanswerable" yaml:"unanswerable"`
}

var linesRE = regexp.MustCompile(`^\s*(\d+)\s*(?:-\s*(\d+))?\s*$`)

func (q question) query(n int) (Query, error) {
	if strings.TrimSpace(q.Question) == "" {
		return Query{}, errors.New("no question")
	}
	out := Query{ID: q.ID, Text: q.Question, Answers: q.Answers, Unanswerable: q.Unanswerable}
	if out.ID == "" {
		out.ID = strconv.Itoa(n)
	}
	if q.Answer != "" {
		out.Answers = append([]string{q.Answer}, out.Answers...)
	}
	if q.File != "" {
		t := Target{Path: path.Clean(strings.TrimPrefix(q.File, "./"))}
		if q.Lines != "" {
			m := linesRE.FindStringSubmatch(q.Lines)
			if m == nil {
				return Query{}, fmt.Errorf("lines %q: want N or N-M", q.Lines)
			}
			t.StartLine, _ = strconv.Atoi(m[1])
			t.EndLine = t.StartLine
			if m[2] != "" {
				t.EndLine, _ = strconv.Atoi(m[2])
			}
			if t.EndLine < t.StartLine {
				return Query{}, fmt.Errorf("lines %q: end before start", q.Lines)
			}
		}
		out.Relevant = []Target{t}
	}
	if q.Unanswerable && (len(out.Relevant) > 0 || len(out.Answers) > 0) {
		return Query{}, errors.New("an unanswerable question has no file or answer")
	}
	if !q.Unanswerable && len(out.Relevant) == 0 && len(out.Answers) == 0 {
		return Query{}, errors.New("give file (and lines), answer, or unanswerable: true")
	}
	return out, nil
}

func parseQuestionsJSONL(data []byte) (*Dataset, error) {
	ds := &Dataset{Format: "questions"}
	err := jsonLines(bytes.NewReader(data), "questions", func(line []byte) error {
		var q question
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return err
		}
		query, err := q.query(len(ds.Queries) + 1)
		if err != nil {
			return err
		}
		ds.Queries = append(ds.Queries, query)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ds.Queries) == 0 {
		return nil, &FormatError{File: "questions", Err: errors.New("no questions")}
	}
	return ds, nil
}

func parseQuestionsYAML(data []byte) (*Dataset, error) {
	var doc struct {
		Questions []question `yaml:"questions"`
	}
	var list []question
	// Either a list of questions or a mapping with a questions list.
	if err := yaml.Unmarshal(data, &list); err != nil {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&doc); err != nil {
			return nil, &FormatError{File: "questions", Err: err}
		}
		list = doc.Questions
	}
	ds := &Dataset{Format: "questions"}
	for i, q := range list {
		query, err := q.query(i + 1)
		if err != nil {
			return nil, &FormatError{File: "questions", Err: fmt.Errorf("question %d: %w", i+1, err)}
		}
		ds.Queries = append(ds.Queries, query)
	}
	if len(ds.Queries) == 0 {
		return nil, &FormatError{File: "questions", Err: errors.New("no questions")}
	}
	return ds, nil
}
