// Command abstain writes the evaluation set of rag's abstention floor from
// SQuAD 2.0 data: the paragraphs of every other article (the 1st, 3rd, ...)
// as one text file each, and a questions file in which the answerable
// questions of those articles name their paragraph, and every question of
// the other articles (about things the files never mention) is marked
// unanswerable. `rag eval` of it reports, per mode, the share of
// unanswerable questions refused before any model is asked and the share
// of answerable ones refused wrongly.
//
//	go run ./bench/abstain -squad ../shared/datasets/squad2-dev-subset/dev-v2.0-subset.json -o DIR
//	rag index DIR/docs && rag eval --modes lexical,hybrid DIR/questions.yaml
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

type squad struct {
	Data []struct {
		Title      string `json:"title"`
		Paragraphs []struct {
			Context string `json:"context"`
			QAs     []struct {
				Question   string `json:"question"`
				Impossible bool   `json:"is_impossible"`
			} `json:"qas"`
		} `json:"paragraphs"`
	} `json:"data"`
}

type question struct {
	Question     string `yaml:"question"`
	File         string `yaml:"file,omitempty"`
	Unanswerable bool   `yaml:"unanswerable,omitempty"`
}

func main() {
	src := flag.String("squad", "", "SQuAD 2.0 JSON file")
	out := flag.String("o", "", "folder to write docs/ and questions.yaml into")
	flag.Parse()
	if err := run(*src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "abstain:", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	if src == "" || out == "" {
		return errors.New("give -squad FILE and -o DIR")
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var s squad
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	docs := filepath.Join(out, "docs")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		return err
	}
	var qs []question
	for ai, a := range s.Data {
		indexed := ai%2 == 0
		for pi, p := range a.Paragraphs {
			name := fmt.Sprintf("%s_%d.txt", strings.ReplaceAll(a.Title, "/", "_"), pi)
			if indexed {
				if err := os.WriteFile(filepath.Join(docs, name), []byte(p.Context+"\n"), 0o644); err != nil {
					return err
				}
			}
			for _, qa := range p.QAs {
				switch {
				case !indexed:
					qs = append(qs, question{Question: qa.Question, Unanswerable: true})
				case !qa.Impossible:
					qs = append(qs, question{Question: qa.Question, File: name})
				}
			}
		}
	}
	y, err := yaml.Marshal(qs)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "questions.yaml"), y, 0o644)
}
