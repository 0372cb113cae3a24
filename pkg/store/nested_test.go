package store

import (
	"slices"
	"testing"
)

// TestNestedSettings: a file's settings are those of the most specific
// source holding it, and what a nested source inherits comes from the
// nearest source around it.
func TestNestedSettings(t *testing.T) {
	t.Parallel()
	m := Manifest{Sources: []Source{
		{Path: "/s", Tenant: "ta", Allow: []string{"user:bob"}, Collection: "c1"},
		{Path: "/s/hr", Allow: []string{"user:alice"}, Inherit: InheritTenant | InheritCollection | InheritWalk},
		{Path: "/s/hr/h.md", File: true, Tenant: "tb", Inherit: InheritAllow | InheritCollection | InheritWalk},
		{Path: "/s/own", Tenant: "", Allow: nil},
		{Path: "/t/x.md", File: true},
	}}
	for _, tc := range []struct {
		root, path         string
		tenant, collection string
		allow              []string
	}{
		{"/s", "a.md", "ta", "c1", []string{"user:bob"}},
		{"/s", "hr/h2.md", "ta", "c1", []string{"user:alice"}},
		{"/s", "hr/deep/h3.md", "ta", "c1", []string{"user:alice"}},
		{"/s", "hr/h.md", "tb", "c1", []string{"user:alice"}},
		{"/s", "own/o.md", "", "own", nil},
		{"/s", "hrx/o.md", "ta", "c1", []string{"user:bob"}},
		{"/t", "x.md", "", "x.md", nil},
		{"/u", "y.md", "", "u", nil},
	} {
		f := &FileEntry{Root: tc.root, Path: tc.path}
		if got := m.CollectionOf(f); got != tc.collection {
			t.Errorf("%s/%s: collection %q, want %q", tc.root, tc.path, got, tc.collection)
		}
		if got := m.collectionResolver()(f); got != tc.collection {
			t.Errorf("%s/%s: resolved collection %q, want %q", tc.root, tc.path, got, tc.collection)
		}
		src, ok := m.SourceOf(f)
		if !ok {
			if tc.root != "/u" {
				t.Errorf("%s/%s: no source", tc.root, tc.path)
			}
			continue
		}
		e := Effective(m.Sources, src)
		if e.Tenant != tc.tenant || !slices.Equal(e.Allow, tc.allow) {
			t.Errorf("%s/%s: tenant %q allow %v, want %q %v", tc.root, tc.path, e.Tenant, e.Allow, tc.tenant, tc.allow)
		}
	}
	if h, ok := Holder(m.Sources, "/s/hr/h.md"); !ok || h.Path != "/s" {
		t.Errorf("holder %v %v", h, ok)
	}
	if _, ok := Holder(m.Sources, "/s"); ok {
		t.Error("/s is held")
	}
}
