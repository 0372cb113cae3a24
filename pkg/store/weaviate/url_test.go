package weaviate

import (
	"errors"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want Config
		bad  bool
	}{
		{name: "host and port", url: "weaviate://127.0.0.1:8080", want: Config{Host: "127.0.0.1:8080", Scheme: "http", Index: "Rag", Consistency: "QUORUM"}},
		{name: "options", url: "weaviate://db:443?index=Team&consistency=all&replicas=3&tls=true&timeout=30s",
			want: Config{Host: "db:443", Scheme: "https", Index: "Team", Consistency: "ALL", Replicas: 3, Timeout: 30 * time.Second}},
		{name: "trailing slash", url: "weaviate://db:8080/", want: Config{Host: "db:8080", Scheme: "http", Index: "Rag", Consistency: "QUORUM"}},
		{name: "no port", url: "weaviate://db", bad: true},
		{name: "other scheme", url: "http://db:8080", bad: true},
		{name: "credentials", url: "weaviate://me:secret@db:8080", bad: true},
		{name: "path", url: "weaviate://db:8080/idx", bad: true},
		{name: "lower-case index", url: "weaviate://db:8080?index=team", bad: true},
		{name: "index with underscore", url: "weaviate://db:8080?index=My_Index", bad: true},
		{name: "bad consistency", url: "weaviate://db:8080?consistency=MOST", bad: true},
		{name: "bad replicas", url: "weaviate://db:8080?replicas=0", bad: true},
		{name: "unknown option", url: "weaviate://db:8080?shards=2", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURL(tt.url)
			var ue *URLError
			if tt.bad {
				if !errors.As(err, &ue) {
					t.Fatalf("ParseURL(%q) = %+v, %v; want a URLError", tt.url, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseURL(%q) = %+v, want %+v", tt.url, got, tt.want)
			}
			// String gives back a URL of the same configuration, never a key.
			again, err := ParseURL(got.String())
			if err != nil || again != got {
				t.Fatalf("ParseURL(%q) = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
}

func TestStringHidesKey(t *testing.T) {
	c := Config{Host: "db:8080", Scheme: "http", Index: "Rag", Consistency: "QUORUM", APIKey: "s3cret"}
	if s := c.String(); s != "weaviate://db:8080" {
		t.Fatalf("String() = %q", s)
	}
}

func TestTenantName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "d"},
		{"acme", "t-acme"},
		{"a_b-C9", "t-a_b-C9"},
		{"d", "t-d"},
		{"me@corp.example", "h-"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := tenantName(tt.in)
		if tt.want == "h-" {
			if len(got) != 2+48 || got[:2] != "h-" {
				t.Errorf("tenantName(%q) = %q, want a hash", tt.in, got)
			}
		} else if got != tt.want {
			t.Errorf("tenantName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if o, ok := seen[got]; ok {
			t.Errorf("tenants %q and %q both map to %q", o, tt.in, got)
		}
		seen[got] = tt.in
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("weaviate://127.0.0.1:8080?index=Rag&consistency=ONE")
	f.Add("weaviate://[::1]:8080")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseURL(s)
		if err != nil {
			return
		}
		again, err := ParseURL(c.String())
		if err != nil || again != c {
			t.Fatalf("ParseURL(%q) = %+v; its String %q reads back as %+v, %v", s, c, c.String(), again, err)
		}
	})
}
