package access

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseMembership(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       Membership
	}{
		{"lists and a single group", "alice: [eng, support]\nbob: support\n", Membership{"alice": {"eng", "support"}, "bob": {"support"}}},
		{"block list", "carol:\n  - ops\n  - eng\n  - ops\n", Membership{"carol": {"eng", "ops"}}},
		{"no groups", "dave: []\n", Membership{"dave": {}}},
		{"email and numeric names", "ann@example.com: [team-1]\n123: 42\n\"x+y\": ['a.b']\n", Membership{"ann@example.com": {"team-1"}, "123": {"42"}, "x+y": {"a.b"}}},
		{"anchors and aliases", "alice: &g [eng, ops]\nbob: *g\n", Membership{"alice": {"eng", "ops"}, "bob": {"eng", "ops"}}},
		{"comments", "# who is in which group\nalice: [eng] # lead\n", Membership{"alice": {"eng"}}},
		{"empty file", "", Membership{}},
		{"only comments", "# nobody yet\n", Membership{}},
		{"null document", "~\n", Membership{}},
		{"document marker", "---\nalice: eng\n", Membership{"alice": {"eng"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMembership(strings.NewReader(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseMembership = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseMembershipErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       string // whole error text
	}{
		{"top-level list", "- alice\n- bob\n", `line 1: want a mapping of user names to groups (alice: [eng, support]), not a list`},
		{"top-level string", "alice\n", `line 1: want a mapping of user names to groups (alice: [eng, support]), not "alice"`},
		{"repeated user", "alice: eng\nbob: eng\nalice: ops\n", `line 3: user "alice": listed again (first on line 1)`},
		{"bad user name", "al ice: [eng]\n", `line 1: user "al ice": ' ' in the name (NAME takes letters, digits and . _ - @ +)`},
		{"user with prefix", "user:alice: [eng]\n", `line 1: user "user:alice": write the bare NAME "alice", without "user:"`},
		{"null user", "~: [eng]\n", `line 1: want a user name as the key, not nothing`},
		{"list as user", "[a, b]: [eng]\n", `line 1: want a user name as the key, not a list`},
		{"bad group name", "bob: [eng, \"sup port\"]\n", `line 1: user "bob": group "sup port": ' ' in the name (NAME takes letters, digits and . _ - @ +)`},
		{"group with prefix", "bob:\n  - group:eng\n", `line 2: user "bob": group "group:eng": write the bare NAME "eng", without "group:"`},
		{"comma-separated groups", "bob: eng, support\n", `line 1: user "bob": group "eng, support": "," in the name; list several groups as [a, b]`},
		{"empty group", "bob: ['']\n", `line 1: user "bob": group "": empty name`},
		{"no value", "bob:\nalice: eng\n", `line 1: user "bob": want a group name or a list of group names ([] for none), not nothing`},
		{"mapping value", "bob:\n  groups: [eng]\n", `line 2: user "bob": want a group name or a list of group names ([] for none), not a mapping`},
		{"nested list", "bob: [[eng]]\n", `line 1: user "bob": want group names in the list, not a list`},
		{"null in list", "bob: [eng, ~]\n", `line 1: user "bob": want group names in the list, not nothing`},
		{"second document", "alice: eng\n---\nbob: ops\n", `line 2: a second YAML document; want one mapping of user names to groups`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := ParseMembership(strings.NewReader(tt.yaml))
			if err == nil {
				t.Fatalf("accepted %q: %#v", tt.yaml, m)
			}
			if err.Error() != tt.want {
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err = %#v, want a *LineError", err)
			}
		})
	}
	t.Run("yaml syntax", func(t *testing.T) {
		t.Parallel()
		_, err := ParseMembership(strings.NewReader("alice: [eng\n"))
		if err == nil || !strings.Contains(err.Error(), "line") {
			t.Fatalf("err = %v, want the YAML parser's error with its line", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		if _, err := ParseMembership(failingReader{boom}); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestPrincipals(t *testing.T) {
	t.Parallel()
	m := Membership{"alice": {"eng", "support"}, "bob": {}, "carol": {"public"}}
	tests := []struct {
		name, as string
		m        Membership
		want     []string
		wantErr  bool
	}{
		{"public", "public", m, []string{"public"}, false},
		{"group", "group:eng", m, []string{"group:eng", "public"}, false},
		{"group gets no other groups", "group:alice", m, []string{"group:alice", "public"}, false},
		{"user with groups", "user:alice", m, []string{"group:eng", "group:support", "public", "user:alice"}, false},
		{"user in no groups", "user:bob", m, []string{"public", "user:bob"}, false},
		{"unknown user", "user:zed", m, []string{"public", "user:zed"}, false},
		{"group named public is not public", "user:carol", m, []string{"group:public", "public", "user:carol"}, false},
		{"names are case-sensitive", "user:Alice", m, []string{"public", "user:Alice"}, false},
		{"no membership file", "user:alice", nil, []string{"public", "user:alice"}, false},
		{"bare name", "alice", m, nil, true},
		{"empty", "", m, nil, true},
		{"bad name", "user:a b", m, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.m.Principals(tt.as)
			if tt.wantErr {
				var pe *PrincipalError
				if !errors.As(err, &pe) || got != nil {
					t.Fatalf("Principals(%q) = %q, %v; want a *PrincipalError", tt.as, got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("Principals(%q) = %q, %v; want %q", tt.as, got, err, tt.want)
			}
		})
	}
}

// FuzzParseMembership feeds the membership parser anything: it never
// panics, and what it accepts holds only valid, sorted names, gives any
// asker valid principals (itself and public among them) without panicking.
func FuzzParseMembership(f *testing.F) {
	for _, s := range []struct{ yaml, as string }{
		{"alice: [eng, support]\nbob: support\n", "user:alice"},
		{"carol: []\n", "user:carol"},
		{"alice: &g [eng]\nbob: *g\n", "user:bob"},
		{"a: &x [b]\nc: *x\n<<: *x\n", "group:b"},
		{"- a\n", "public"},
		{"a: {b: c}\n", "user:a"},
		{"a: [b\n", "user:a"},
		{"a: b\n---\nc: d\n", "bad"},
		{"", ""},
		{"~\n", "user:x"},
	} {
		f.Add(s.yaml, s.as)
	}
	f.Fuzz(func(t *testing.T, text, as string) {
		m, err := ParseMembership(strings.NewReader(text))
		if err != nil {
			return
		}
		for user, groups := range m {
			if reason := checkName(user); reason != "" {
				t.Fatalf("accepted user %q: %s", user, reason)
			}
			for _, g := range groups {
				if reason := checkName(g); reason != "" {
					t.Fatalf("accepted group %q of %q: %s", g, user, reason)
				}
			}
			if !slices.IsSorted(groups) || len(slices.Compact(slices.Clone(groups))) != len(groups) {
				t.Fatalf("groups of %q not sorted and unique: %q", user, groups)
			}
		}
		ps, err := m.Principals(as)
		if err != nil {
			if CheckPrincipal(as) == nil {
				t.Fatalf("Principals(%q): %v", as, err)
			}
			return
		}
		if !slices.Contains(ps, as) || !slices.Contains(ps, Public) || !slices.IsSorted(ps) {
			t.Fatalf("Principals(%q) = %q", as, ps)
		}
		for _, p := range ps {
			if err := CheckPrincipal(p); err != nil {
				t.Fatalf("Principals(%q) gave %v", as, err)
			}
		}
	})
}

// FuzzParseFlat: whatever the one-pass reader of the flat form takes, the
// YAML decoder reads the same; the flat form is a shortcut, never another
// meaning.
func FuzzParseFlat(f *testing.F) {
	for _, s := range []string{
		"alice: [eng, support]\nbob: support\ncarol: []\n",
		"# groups\n\nalice: [eng,support ]\r\nbob: support  \n",
		"alice: [eng]\nalice: [ops]\n",
		"alice: null\n", "alice: ~\n", "alice: [eng] # lead\n", "alice: 'eng'\n",
		"010: [1e3, true]\n", "a: [b, , c]\n", "a:  b\n", "- a\n", "a: b: c\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		flat, ok := parseFlat([]byte(text))
		if !ok {
			return
		}
		full, err := parseYAML(strings.NewReader(text))
		if err != nil {
			t.Fatalf("flat read %q as %v; YAML: %v", text, flat, err)
		}
		if !maps.EqualFunc(flat, full, slices.Equal[[]string]) {
			t.Fatalf("flat read %q as %v; YAML as %v", text, flat, full)
		}
	})
}

// TestParseFlat: the flat form is read in one pass, anything else by YAML,
// to the same memberships.
func TestParseFlat(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		flat       bool
	}{
		{"lists, one name, none", "alice: [eng, support, eng]\nbob: support\ncarol: []\n", true},
		{"comments and blank lines", "# who\n\nalice: [eng]\r\n", true},
		{"quoted", "alice: ['eng']\n", false},
		{"anchors", "alice: &g [eng]\nbob: *g\n", false},
		{"a comment after a value", "alice: [eng] # x\n", false},
		{"repeated user", "alice: [eng]\nalice: [ops]\n", false},
		{"null", "alice: null\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ok := parseFlat([]byte(tt.text))
			if ok != tt.flat {
				t.Errorf("flat %v, want %v", ok, tt.flat)
			}
			got, gotErr := ParseMembership(strings.NewReader(tt.text))
			want, wantErr := parseYAML(strings.NewReader(tt.text))
			if (gotErr == nil) != (wantErr == nil) || !maps.EqualFunc(got, want, slices.Equal[[]string]) {
				t.Errorf("ParseMembership = %v, %v; YAML %v, %v", got, gotErr, want, wantErr)
			}
		})
	}
}

// BenchmarkParseMembership100k reads a groups file of 100,000 users, as a
// one-shot rag search does at every run: in the flat form, and as YAML.
func BenchmarkParseMembership100k(b *testing.B) {
	var text strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&text, "user%d: [team%d, all]\n", i, i%100)
	}
	data := []byte(text.String())
	for _, bm := range []struct {
		name  string
		parse func() (Membership, error)
	}{
		{"flat", func() (Membership, error) { return ParseMembership(bytes.NewReader(data)) }},
		{"yaml", func() (Membership, error) { return parseYAML(bytes.NewReader(data)) }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m, err := bm.parse(); err != nil || len(m) != 100_000 {
					b.Fatal(len(m), err)
				}
			}
		})
	}
}
