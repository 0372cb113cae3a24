package cli

import "github.com/schollz/progressbar/v3"

// progress draws a bar on stderr, only when stderr is a terminal.
type progress struct {
	a    *App
	what string
	bar  *progressbar.ProgressBar
}

func newProgress(a *App) *progress { return &progress{a: a} }

func (p *progress) start(what string) { p.what = what }

func (p *progress) set(done, total int) {
	if !p.a.IO.IsStderrTTY() || total == 0 {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.a.IO.ErrOut),
			progressbar.OptionSetDescription(p.what),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100_000_000),
		)
	}
	_ = p.bar.Set(done) // drawing progress is best effort
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Clear() // best effort, like drawing
		p.bar = nil
	}
}
