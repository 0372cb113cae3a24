package config

import (
	"path/filepath"
	"testing"
)

func TestOllamaHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"", "http://127.0.0.1:11434", false},
		{"127.0.0.1:18434", "http://127.0.0.1:18434", false},
		{"example.org", "http://example.org:11434", false},
		{"http://example.org", "http://example.org:80", false},
		{"https://example.org/ollama", "https://example.org:443/ollama", false},
		{"0.0.0.0:9000", "http://127.0.0.1:9000", false},
		{"[::1]:9000", "http://[::1]:9000", false},
		{"ftp://x", "", true},
		{"localhost:99999", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			u, err := OllamaHost(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %v", u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.String() != tt.want {
				t.Errorf("got %s, want %s", u, tt.want)
			}
		})
	}
}

func TestIndexDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"xdg", map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/h"}, filepath.Join("/x", "rag", "index")},
		{"home", map[string]string{"HOME": "/h"}, filepath.Join("/h", ".local", "share", "rag", "index")},
		{"neither", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := IndexDir(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("IndexDir = %q; want %q", got, tt.want)
			}
		})
	}
}
