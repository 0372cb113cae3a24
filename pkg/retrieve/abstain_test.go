package retrieve

import "testing"

func TestCoverageFloor(t *testing.T) {
	tests := []struct {
		name, query string
		want        float32
	}{
		{"english keeps the floor", "When did the Normans conquer England?", 0.23},
		{"german is lower", "Wann eroberten die Normannen England und wer war der König?", 0.23 * 0.64},
		{"chinese is lower", "诺曼人什么时候征服了英格兰？", 0.23 * 0.54},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CoverageFloor(tt.query, 0.23); got-tt.want > 1e-6 || tt.want-got > 1e-6 {
				t.Errorf("CoverageFloor(%q) = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

func TestNearness(t *testing.T) {
	tests := []struct {
		name  string
		terms []string
		held  []string
		want  float64
	}{
		{"side by side", []string{"a", "b", "c"}, []string{"a", "b"}, 1},
		{"apart", []string{"a", "x", "x", "b", "a"}, []string{"a", "b"}, 1},
		{"spread", []string{"a", "x", "x", "b"}, []string{"a", "b"}, 0.5},
		{"none", []string{"a"}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held := map[string]bool{}
			for _, h := range tt.held {
				held[h] = true
			}
			if got := nearness(tt.terms, held); got != tt.want {
				t.Errorf("nearness = %v, want %v", got, tt.want)
			}
		})
	}
}
