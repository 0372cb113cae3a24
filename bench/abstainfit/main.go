// Command abstainfit fits rag's abstention model (pkg/retrieve, Confidence)
// and measures it by cross-validation split by article.
//
//	abstainfit features -squad FILE -index DIR -set NAME >NAME.tsv
//
// reads the half-indexed split of bench/abstain (the paragraphs of every
// other article indexed in DIR; the answerable questions of those articles
// and every question of the others, off-corpus) and writes, per question,
// its set, article, label (1 answerable) and retrieve.Signals.
//
//	abstainfit fit [-k 5] [-max 0.04] A.tsv B.tsv ...
//
// assigns the articles of all sets (an XQuAD article is the same article in
// every language, so it falls in one fold for all) to k folds; for each
// fold it fits a logistic regression on the others, picks per set
// (language) the highest probability cut whose wrong refusals on them are
// at most -max, and reports the refused and wrongly refused shares on the fold per
// set. Last it fits on everything and prints the coefficients and each
// set's cut as an offset of the intercept; with -only 1 (coverage alone)
// the coverage floor of set s is (-offset - c0) / c1, which
// pkg/retrieve's coverageScale holds as a share of English's.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "abstainfit: give features or fit")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "features":
		err = features(os.Args[2:])
	case "fit":
		err = fit(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "abstainfit:", err)
		os.Exit(1)
	}
}

type squad struct {
	Data []struct {
		Title      string `json:"title"`
		Paragraphs []struct {
			QAs []struct {
				Question   string `json:"question"`
				Impossible bool   `json:"is_impossible"`
			} `json:"qas"`
		} `json:"paragraphs"`
	} `json:"data"`
}

func features(args []string) error {
	fs := flag.NewFlagSet("features", flag.ExitOnError)
	src := fs.String("squad", "", "SQuAD-format JSON file")
	dir := fs.String("index", "", "index of the split's documents")
	set := fs.String("set", "", "name of the set")
	debug := fs.Bool("v", false, "print each question, its coverage and its best match on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *src == "" || *dir == "" || *set == "" {
		return errors.New("give -squad, -index and -set")
	}
	data, err := os.ReadFile(*src)
	if err != nil {
		return err
	}
	var s squad
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	ctx := context.Background()
	st, err := store.Open(ctx, *dir, store.Options{})
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	for ai, a := range s.Data {
		indexed := ai%2 == 0 // as bench/abstain splits
		for _, p := range a.Paragraphs {
			for _, qa := range p.QAs {
				if indexed && qa.Impossible {
					continue
				}
				hits, err := st.SearchText(ctx, store.View{}, qa.Question, retrieve.JudgeDepth)
				if err != nil {
					return errors.Join(err, st.Close())
				}
				label := 0
				if indexed {
					label = 1
				}
				sig, _ := retrieve.JudgeHits(qa.Question, hits)
				if *debug && len(hits) > 0 {
					fmt.Fprintf(os.Stderr, "%d %.2f %.2f %s || %.200s\n", label, sig.Coverage, sig.Unknown, qa.Question, hits[0].Text)
				}
				fmt.Fprintf(out, "%s\t%s\t%d", *set, a.Title, label)
				for _, x := range sig.Vector()[1:] {
					fmt.Fprintf(out, "\t%.5f", x)
				}
				fmt.Fprintln(out)
			}
		}
	}
	return errors.Join(out.Flush(), st.Close())
}

type row struct {
	set, title string
	label      float64
	x          []float64 // with the intercept's 1 first
}

func read(files []string) ([]row, error) {
	var rows []row
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			c := strings.Split(line, "\t")
			r := row{set: c[0], title: c[1], x: []float64{1}}
			if c[2] == "1" {
				r.label = 1
			}
			for _, v := range c[3:] {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				r.x = append(r.x, x)
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

func fit(args []string) error {
	fs := flag.NewFlagSet("fit", flag.ExitOnError)
	k := fs.Int("k", 5, "folds")
	maxWrong := fs.Float64("max", 0.04, "wrong refusals allowed on the training folds, in every set")
	langs := fs.Bool("lang", false, "add an input per set (its language) but the first")
	only := fs.String("only", "", "comma-separated inputs to use (1-based, after the intercept); all if empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rows, err := read(fs.Args())
	if err != nil {
		return err
	}
	if *langs {
		names := sets(rows)
		for i := range rows {
			for _, n := range names[1:] {
				v := 0.0
				if rows[i].set == n {
					v = 1
				}
				rows[i].x = append(rows[i].x, v)
			}
		}
		fmt.Println("language inputs:", names[1:])
	}
	if *only != "" {
		keep := []int{0}
		for _, c := range strings.Split(*only, ",") {
			i, err := strconv.Atoi(c)
			if err != nil {
				return err
			}
			keep = append(keep, i)
		}
		for i := range rows {
			x := make([]float64, len(rows[i].x))
			for _, c := range keep {
				x[c] = rows[i].x[c]
			}
			copy(x[11:], rows[i].x[11:]) // language inputs
			rows[i].x = x                // a left-out input is 0: its coefficient stays 0
		}
	}
	var titles []string
	for _, r := range rows {
		if !slices.Contains(titles, r.title) {
			titles = append(titles, r.title)
		}
	}
	slices.Sort(titles)
	fold := map[string]int{}
	for i, t := range titles {
		fold[t] = i % *k
	}
	var worstRefused, worstWrong = 1.0, 0.0
	for f := 0; f < *k; f++ {
		var train, test []row
		for _, r := range rows {
			if fold[r.title] == f {
				test = append(test, r)
			} else {
				train = append(train, r)
			}
		}
		w := logistic(train)
		cut := pickCuts(train, w, *maxWrong)
		fmt.Printf("fold %d:", f+1)
		refused, wrong := report(test, w, cut)
		worstRefused, worstWrong = min(worstRefused, refused), max(worstWrong, wrong)
	}
	fmt.Printf("worst fold: %.1f%% of off-corpus questions refused, %.1f%% of answerable ones wrongly (worst set of a fold above)\n", 100*worstRefused, 100*worstWrong)
	w := logistic(rows)
	cut := pickCuts(rows, w, *maxWrong)
	fmt.Printf("all:")
	report(rows, w, cut)
	// The cuts as offsets of the intercept, so that the model's 0.5 is
	// each set's cut.
	for _, s := range sets(rows) {
		fmt.Printf("offset %s %.4f\n", s, -math.Log(cut[s]/(1-cut[s])))
	}
	fmt.Printf("coefficients: {")
	for i, x := range w {
		if i > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("%.4f", x)
	}
	fmt.Println("}")
	return nil
}

func prob(w, x []float64) float64 {
	z := 0.0
	for i := range w {
		z += w[i] * x[i]
	}
	return 1 / (1 + math.Exp(-z))
}

// logistic fits the coefficients by Newton's method (IRLS) with a small
// ridge, which keeps them finite when a feature separates the classes.
func logistic(rows []row) []float64 {
	d := len(rows[0].x)
	w := make([]float64, d)
	for it := 0; it < 30; it++ {
		g := make([]float64, d)
		h := make([][]float64, d)
		for i := range h {
			h[i] = make([]float64, d)
			h[i][i] = 1e-3 * float64(len(rows))
			g[i] = -h[i][i] * w[i]
		}
		for _, r := range rows {
			p := prob(w, r.x)
			for i := 0; i < d; i++ {
				g[i] += (r.label - p) * r.x[i]
				for j := 0; j < d; j++ {
					h[i][j] += p * (1 - p) * r.x[i] * r.x[j]
				}
			}
		}
		step := solve(h, g)
		change := 0.0
		for i := range w {
			w[i] += step[i]
			change = max(change, math.Abs(step[i]))
		}
		if change < 1e-8 {
			break
		}
	}
	return w
}

// solve solves a x = b by Gauss-Jordan elimination with partial pivoting.
func solve(a [][]float64, b []float64) []float64 {
	n := len(b)
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p], b[c], b[p] = a[p], a[c], b[p], b[c]
		for r := 0; r < n; r++ {
			if r == c || a[c][c] == 0 {
				continue
			}
			f := a[r][c] / a[c][c]
			for j := c; j < n; j++ {
				a[r][j] -= f * a[c][j]
			}
			b[r] -= f * b[c]
		}
	}
	x := make([]float64, n)
	for i := range x {
		if a[i][i] != 0 {
			x[i] = b[i] / a[i][i]
		}
	}
	return x
}

// pickCuts is, per set (language), the highest probability cut whose
// wrong refusals on its rows are at most maxWrong.
func pickCuts(rows []row, w []float64, maxWrong float64) map[string]float64 {
	cuts := map[string]float64{}
	for _, s := range sets(rows) {
		cuts[s] = 0.001
		for c := 0.001; c < 0.99; c += 0.002 {
			if _, wrong := shares(rows, s, w, c); wrong <= maxWrong {
				cuts[s] = c
			}
		}
	}
	return cuts
}

func sets(rows []row) []string {
	var out []string
	for _, r := range rows {
		if !slices.Contains(out, r.set) {
			out = append(out, r.set)
		}
	}
	return out
}

// shares are the off-corpus questions of set refused at cut, and the
// answerable ones.
func shares(rows []row, set string, w []float64, cut float64) (refused, wrong float64) {
	var off, ans float64
	for _, r := range rows {
		if r.set != set {
			continue
		}
		no := prob(w, r.x) < cut
		switch {
		case r.label == 1:
			ans++
			if no {
				wrong++
			}
		default:
			off++
			if no {
				refused++
			}
		}
	}
	return refused / max(off, 1), wrong / max(ans, 1)
}

// report prints each set's shares and returns the worst of each.
func report(rows []row, w []float64, cut map[string]float64) (worstRefused, worstWrong float64) {
	worstRefused = 1
	for _, s := range sets(rows) {
		refused, wrong := shares(rows, s, w, cut[s])
		fmt.Printf("  %s %.1f%%/%.1f%%", s, 100*refused, 100*wrong)
		worstRefused, worstWrong = min(worstRefused, refused), max(worstWrong, wrong)
	}
	fmt.Println()
	return worstRefused, worstWrong
}
