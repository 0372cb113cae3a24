// Command xqdiag (not committed) prints coverage diagnostics on XQuAD.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/rag-cli/rag/pkg/lexical"
)

func main() {
	dir := os.Args[1]
	type doc struct{ ID, Title, Text string }
	var docs []doc
	f, _ := os.Open(dir + "/corpus.jsonl")
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var d struct {
			ID    string `json:"_id"`
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		json.Unmarshal(sc.Bytes(), &d)
		docs = append(docs, doc{d.ID, d.Title, d.Text})
	}
	b := lexical.NewBuilder()
	for i, d := range docs {
		b.Add(i, d.Title+"\n"+d.Text)
	}
	x := lexical.Merge(b)
	r, err := lexical.Open(x.Append(nil))
	if err != nil {
		panic(err)
	}
	fmt.Println("langs", r.Langs())
	q, _ := os.Open(dir + "/queries.jsonl")
	sc = bufio.NewScanner(q)
	var covs []float64
	low := 0
	shown := 0
	for sc.Scan() {
		var qq struct{ Text string }
		json.Unmarshal(sc.Bytes(), &qq)
		hits, att, _ := lexical.SearchPartsAttainable(qq.Text, 1, []lexical.Part{{R: r}}, func(p int, d uint32) int { return int(d) })
		c := 0.0
		if len(hits) > 0 && att > 0 {
			c = float64(hits[0].Score / att)
		}
		covs = append(covs, c)
		if c < 0.23 {
			low++
			if shown < 12 {
				shown++
				fmt.Printf("%.3f %s %v\n", c, qq.Text, lexical.Analyzer{}.Terms(qq.Text))
			}
		}
	}
	sort.Float64s(covs)
	fmt.Printf("below 0.23: %d/%d; p5 %.3f p10 %.3f p50 %.3f\n", low, len(covs), covs[len(covs)/20], covs[len(covs)/10], covs[len(covs)/2])
}
