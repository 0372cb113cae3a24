package access

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheckPrincipal(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", MaxName)
	tests := []struct {
		name, in string
		want     string // error text; "" for a principal
	}{
		{"public", "public", ""},
		{"user", "user:alice", ""},
		{"group", "group:eng", ""},
		{"email", "user:alice.o-neil+rag@example.com", ""},
		{"every name character", "user:A.b_c-d@e+f9", ""},
		{"longest name", "group:" + long, ""},
		{"wrong kind", "grp:x", `bad principal "grp:x": want public, user:NAME or group:NAME`},
		{"empty", "", `bad principal "": want public, user:NAME or group:NAME`},
		{"case-sensitive public", "Public", `bad principal "Public": want public, user:NAME or group:NAME`},
		{"case-sensitive kind", "User:alice", `bad principal "User:alice": want public, user:NAME or group:NAME`},
		{"bare name", "alice", `bad principal "alice": want public, user:NAME or group:NAME`},
		{"empty name", "user:", `bad principal "user:": empty name; want public, user:NAME or group:NAME`},
		{"name too long", "user:" + long + "b", `bad principal "user:` + long + `b": name longer than 128 bytes; want public, user:NAME or group:NAME`},
		{"space", "group:a b", `bad principal "group:a b": ' ' in the name (NAME takes letters, digits and . _ - @ +); want public, user:NAME or group:NAME`},
		{"colon", "user:a:b", `bad principal "user:a:b": ':' in the name (NAME takes letters, digits and . _ - @ +); want public, user:NAME or group:NAME`},
		{"not ascii", "user:josé", `bad principal "user:josé": 'é' in the name (NAME takes letters, digits and . _ - @ +); want public, user:NAME or group:NAME`},
		{"leading space", " public", `bad principal " public": want public, user:NAME or group:NAME`},
		{"newline", "user:a\n", `bad principal "user:a\n": '\n' in the name (NAME takes letters, digits and . _ - @ +); want public, user:NAME or group:NAME`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckPrincipal(tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckPrincipal(%q) = %v", tt.in, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("CheckPrincipal(%q) = %v\nwant %s", tt.in, err, tt.want)
			}
			var pe *PrincipalError
			if !errors.As(err, &pe) || pe.Principal != tt.in {
				t.Fatalf("not a *PrincipalError for %q: %#v", tt.in, err)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in, want []string
	}{
		{"nil", nil, nil},
		{"empty is nobody", []string{}, nil},
		{"sorted and deduplicated", []string{"user:b", "group:a", "user:b", "public"}, []string{"group:a", "public", "user:b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := slices.Clone(tt.in)
			got := Normalize(in)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("Normalize(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Fatalf("Normalize changed its argument: %q", in)
			}
		})
	}
}

func TestFromMeta(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		meta    map[string]any
		want    []string
		ok      bool
		wantErr string // substring
	}{
		{"no front matter", nil, nil, false, ""},
		{"no access key", map[string]any{"title": "Guide", "tags": []any{"a"}}, nil, false, ""},
		{"key in any case", map[string]any{"Access": "group:eng"}, []string{"group:eng"}, true, ""},
		{"key in capitals", map[string]any{"ACCESS": []any{"user:alice"}}, []string{"user:alice"}, true, ""},
		{"key given twice", map[string]any{"access": "public", "Access": "user:alice"}, nil, true, "access: given 2 times (Access, access): keep one"},
		{"bad value under another case", map[string]any{"Access": "grp:x"}, nil, true, `"Access": bad principal "grp:x"`},
		{"near miss: a letter missed", map[string]any{"acces": []any{"user:alice"}}, nil, true, `key "acces" is not "access"`},
		{"near miss: another missed", map[string]any{"acess": "user:alice"}, nil, true, `key "acess" is not "access"`},
		{"near miss: a letter doubled", map[string]any{"accesss": "user:alice"}, nil, true, `key "accesss" is not "access"`},
		{"near miss: a trailing space", map[string]any{"Access ": "user:alice"}, nil, true, `key "Access " is not "access"`},
		{"near miss: letters swapped", map[string]any{"acecss": "user:alice"}, nil, true, `key "acecss"`},
		{"near miss: any value", map[string]any{"acces": true}, nil, true, `key "acces"`},
		{"near miss, two edits, naming principals", map[string]any{"acceses": "public"}, nil, true, `key "acceses"`},
		{"two edits, not principals", map[string]any{"success": true, "accent": "british", "accept": []any{"json"}}, nil, false, ""},
		{"three edits", map[string]any{"address": "user:alice", "assets": []any{"group:x"}}, nil, false, ""},
		{"access beside a near miss", map[string]any{"access": "user:bob", "acces": "public"}, []string{"user:bob"}, true, ""},
		{"list from yaml", map[string]any{"access": []any{"user:bob", "group:eng"}}, []string{"group:eng", "user:bob"}, true, ""},
		{"list of strings", map[string]any{"access": []string{"group:eng", "group:eng", "public"}}, []string{"group:eng", "public"}, true, ""},
		{"one string", map[string]any{"access": "group:eng"}, []string{"group:eng"}, true, ""},
		{"comma-separated", map[string]any{"access": "group:a, user:b,public"}, []string{"group:a", "public", "user:b"}, true, ""},
		{"spaces around items", map[string]any{"access": []any{" group:a "}}, []string{"group:a"}, true, ""},
		{"empty list is nobody", map[string]any{"access": []any{}}, nil, true, ""},
		{"null", map[string]any{"access": nil}, nil, true, "access: empty; want public, user:NAME or group:NAME, a list of them, or [] for nobody"},
		{"empty string", map[string]any{"access": ""}, nil, true, `access: bad principal ""`},
		{"trailing comma", map[string]any{"access": "group:a,"}, nil, true, `access: bad principal ""`},
		{"bad principal", map[string]any{"access": "grp:x"}, nil, true, `access: bad principal "grp:x": want public, user:NAME or group:NAME`},
		{"bad principal in list", map[string]any{"access": []any{"group:a", "eng"}}, nil, true, `access: bad principal "eng"`},
		{"comma inside a list item", map[string]any{"access": []any{"group:a, user:b"}}, nil, true, `bad principal "group:a, user:b"`},
		{"number", map[string]any{"access": 5}, nil, true, "access: want a principal or a list of principals, not int 5"},
		{"json number", map[string]any{"access": 5.0}, nil, true, "not float64 5"},
		{"bool", map[string]any{"access": true}, nil, true, "not bool true"},
		{"mapping", map[string]any{"access": map[string]any{"group": "eng"}}, nil, true, "not a mapping"},
		{"number in list", map[string]any{"access": []any{"group:a", 7}}, nil, true, "access: item 2: want a principal, not int 7"},
		{"list in list", map[string]any{"access": []any{[]any{"group:a"}}}, nil, true, "item 1: want a principal, not a list"},
		{"null in list", map[string]any{"access": []any{nil}}, nil, true, "item 1: want a principal, not nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok, err := FromMeta(tt.meta)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("FromMeta(%v) err = %v, want %q", tt.meta, err, tt.wantErr)
				}
				if got != nil || !ok {
					t.Fatalf("FromMeta(%v) = %q, %v with an error", tt.meta, got, ok)
				}
				return
			}
			if err != nil || ok != tt.ok || !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("FromMeta(%v) = %#v, %v, %v; want %#v, %v", tt.meta, got, ok, err, tt.want, tt.ok)
			}
		})
	}
	t.Run("near miss is a NearMissError", func(t *testing.T) {
		t.Parallel()
		_, _, err := FromMeta(map[string]any{"title": "x", "acces": "public"})
		var nm *NearMissError
		if !errors.As(err, &nm) || nm.Key != "acces" {
			t.Fatalf("err = %#v", err)
		}
		if !HasMeta(map[string]any{"acces": "public"}) || HasMeta(map[string]any{"title": "x"}) {
			t.Error("HasMeta does not say what FromMeta's ok says")
		}
	})
	t.Run("bad principal is a PrincipalError", func(t *testing.T) {
		t.Parallel()
		_, _, err := FromMeta(map[string]any{"access": "grp:x"})
		var pe *PrincipalError
		if !errors.As(err, &pe) || pe.Principal != "grp:x" {
			t.Fatalf("err = %#v", err)
		}
	})
}

func TestResolve(t *testing.T) {
	t.Parallel()
	rules := mustRules(t, "# team docs\n*.md group:eng\n/hr/ group:hr\n/hr/closed/\n")
	tests := []struct {
		name    string
		meta    map[string]any
		rules   *Rules
		path    string
		allow   []string
		want    []string
		from    string
		wantErr string
	}{
		{"front matter beats a rule and --allow", map[string]any{"access": "user:ann"}, rules, "hr/a.md", []string{"public"}, []string{"user:ann"}, "front matter", ""},
		{"front matter empty list is nobody", map[string]any{"access": []any{}}, rules, "a.md", []string{"public"}, nil, "front matter", ""},
		{"front matter without access falls through", map[string]any{"title": "x"}, rules, "guide.md", []string{"public"}, []string{"group:eng"}, ".ragaccess line 2", ""},
		{"last matching line", nil, rules, "hr/pay.md", []string{"public"}, []string{"group:hr"}, ".ragaccess line 3", ""},
		{"deny line", nil, rules, "hr/closed/case.md", []string{"public"}, nil, ".ragaccess line 4", ""},
		{"no line matches: --allow", nil, rules, "notes.txt", []string{"public", "group:eng", "public"}, []string{"group:eng", "public"}, "--allow", ""},
		{"no rules file: --allow", map[string]any{"title": "x"}, nil, "a.md", []string{"group:ops"}, []string{"group:ops"}, "--allow", ""},
		{"nothing at all is nobody", nil, nil, "a.md", nil, nil, "--allow", ""},
		{"bad front matter does not fall back", map[string]any{"access": "grp:eng"}, rules, "a.md", []string{"public"}, nil, "front matter", `front matter: access: bad principal "grp:eng"`},
		{"bad --allow", nil, nil, "a.md", []string{"public", "everyone"}, nil, "--allow", `--allow: bad principal "everyone"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, from, err := Resolve(tt.meta, tt.rules, tt.path, tt.allow)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) || from != tt.from {
				t.Fatalf("Resolve = %#v, %q; want %#v, %q", got, from, tt.want, tt.from)
			}
		})
	}
	t.Run("result is a copy", func(t *testing.T) {
		t.Parallel()
		got, _, err := Resolve(nil, rules, "a.md", nil)
		if err != nil {
			t.Fatal(err)
		}
		got[0] = "public"
		if again, _ := rules.Match("a.md"); !slices.Equal(again, []string{"group:eng"}) {
			t.Fatalf("changing a result changed the rules: %q", again)
		}
	})
}

func TestVisible(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		acl, who []string
		want     bool
	}{
		{"nobody's file", nil, []string{"public", "user:ann", "group:eng"}, false},
		{"public file, public asker", []string{"public"}, []string{"public"}, true},
		{"public file, asker without public", []string{"group:x", "public"}, []string{"user:ann"}, true},
		{"public file, no asker", []string{"public"}, nil, true},
		{"group in common", []string{"group:eng", "user:bob"}, []string{"group:eng", "public", "user:ann"}, true},
		{"user in common", []string{"user:ann"}, []string{"public", "user:ann"}, true},
		{"nothing in common", []string{"group:hr", "user:bob"}, []string{"group:eng", "public", "user:ann"}, false},
		{"names differ in case", []string{"group:Eng"}, []string{"group:eng", "public"}, false},
		{"user and group of one name differ", []string{"group:ann"}, []string{"public", "user:ann"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Visible(tt.acl, tt.who); got != tt.want {
				t.Fatalf("Visible(%q, %q) = %v", tt.acl, tt.who, got)
			}
		})
	}
}

func mustRules(t *testing.T, text string) *Rules {
	t.Helper()
	r, err := ParseRules(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FuzzFromMeta feeds front matter of two keys to FromMeta: it never
// panics; HasMeta says what its ok says; a key that is "access" in any
// case is always read, and a key within one edit of it without one
// always fails closed (an error, never principals).
func FuzzFromMeta(f *testing.F) {
	for _, s := range [][4]string{
		{"access", "user:a", "title", "x"},
		{"Access", "group:b, public", "acces", "public"},
		{"acess", "user:a", "success", "true"},
		{"Access ", "user:a", "", ""},
		{"ACCESS", "", "access", "public"},
		{"aççess", "user:a", "accès", "public"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		meta := map[string]any{k1: v1, k2: []any{v2}}
		got, ok, err := FromMeta(meta)
		if HasMeta(meta) != ok {
			t.Fatalf("HasMeta %v, FromMeta ok %v", !ok, ok)
		}
		if err != nil && (got != nil || !ok) {
			t.Fatalf("an error with %q, %v", got, ok)
		}
		exact := 0
		for k := range meta {
			if strings.EqualFold(k, MetaKey) {
				exact++
			}
		}
		if exact > 0 && !ok {
			t.Fatalf("%v: an access key not read", meta)
		}
		if exact == 0 {
			for k := range meta {
				if editDistance(strings.ToLower(k), MetaKey) == 1 && err == nil {
					t.Fatalf("%v: key %q one edit from access, read as %q", meta, k, got)
				}
			}
		}
		for _, p := range got {
			if CheckPrincipal(p) != nil {
				t.Fatalf("principal %q", p)
			}
		}
	})
}
