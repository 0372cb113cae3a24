// Package access decides who may see a file, and who is asking. The indexer
// resolves each file's principals with it (front matter, else the last
// matching line of the source's .ragaccess file, else the source's --allow
// list) and keeps them in the catalog; a query resolves who asks (--as, plus
// the groups the membership file gives a user, plus public) with it; the
// store keeps only the chunks whose principals meet the asker's. It is pure
// logic: it reads only the io.Readers it is given, never the environment.
//
// A principal is "public", "user:NAME" or "group:NAME". NAME is 1-128 bytes
// of ASCII letters, digits and . _ - @ + (so e-mail addresses work), and is
// case-sensitive. ASCII only, so two spellings of one name (composed and
// decomposed accents) can never be two principals.
package access

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Public is the principal everyone has, asking or not.
const Public = "public"

// Prefixes of the named principals.
const (
	UserPrefix  = "user:"
	GroupPrefix = "group:"
)

// MaxName is the longest NAME, in bytes.
const MaxName = 128

// Where Resolve found a file's principals (a .ragaccess match says
// ".ragaccess line N").
const (
	FromFrontMatter = "front matter"
	FromAllow       = "--allow"
)

// RulesFile is the rules file read at the root of an indexed folder.
const RulesFile = ".ragaccess"

// MaxRulesSize is the largest rules file read, and MaxMembershipSize the
// largest groups file: a file of rules is a few lines, and a groups file
// of 100,000 users a few MiB.
const (
	MaxRulesSize      = 1 << 20
	MaxMembershipSize = 64 << 20
)

// MetaKey is the front matter key naming who may see a document.
const MetaKey = "access"

const validForms = "want public, user:NAME or group:NAME"

// PrincipalError is a string that is not a principal.
type PrincipalError struct {
	Principal string
	// Reason says what is wrong with the NAME; empty when the form itself
	// is wrong.
	Reason string
}

func (e *PrincipalError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("bad principal %q: %s", e.Principal, validForms)
	}
	return fmt.Sprintf("bad principal %q: %s; %s", e.Principal, e.Reason, validForms)
}

// CheckPrincipal reports whether s is a principal; the error (a
// *PrincipalError) says what is wrong and the valid forms.
func CheckPrincipal(s string) error {
	if s == Public {
		return nil
	}
	name, ok := strings.CutPrefix(s, UserPrefix)
	if !ok {
		name, ok = strings.CutPrefix(s, GroupPrefix)
	}
	if !ok {
		return &PrincipalError{Principal: s}
	}
	if reason := checkName(name); reason != "" {
		return &PrincipalError{Principal: s, Reason: reason}
	}
	return nil
}

// CheckTenant reports whether s can name a tenant: a NAME as principals
// have (1-128 bytes of letters, digits and . _ - @ +).
func CheckTenant(s string) error {
	if reason := checkName(s); reason != "" {
		return fmt.Errorf("bad tenant %q: %s", s, reason)
	}
	return nil
}

// checkName says what is wrong with a NAME, or "" when it is one.
func checkName(name string) string {
	if name == "" {
		return "empty name"
	}
	if len(name) > MaxName {
		return fmt.Sprintf("name longer than %d bytes", MaxName)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			r, _ := utf8.DecodeRuneInString(name[i:])
			return fmt.Sprintf("%q in the name (NAME takes letters, digits and . _ - @ +)", r)
		}
	}
	return ""
}

func nameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '.' || c == '_' || c == '-' || c == '@' || c == '+'
}

// Normalize returns principals sorted and without duplicates, in a new
// slice; nil (nobody) when there are none.
func Normalize(principals []string) []string {
	if len(principals) == 0 {
		return nil
	}
	ps := slices.Clone(principals)
	slices.Sort(ps)
	return slices.Compact(ps)
}

// FromMeta reads who may see a document from its front matter, as the
// catalog keeps it (decoded YAML or TOML, or JSON after a round trip): a
// list of principals, or one string of them separated by commas
// ("group:a, user:b"). The key is "access" in any case ("Access"). ok is
// false when there is no access key; an explicit empty list means nobody.
// The key is there (ok) but err is set for a value of another shape or a
// bad principal, for the key given twice ("access" and "Access"), and for
// a key that is almost "access" where "access" is missing (a
// *NearMissError: "acces", "Access " with a space): the document must not
// fall back to a wider rule because of a typo.
func FromMeta(meta map[string]any) (principals []string, ok bool, err error) {
	key, v, ok, err := metaValue(meta)
	if !ok || err != nil {
		return nil, ok, err
	}
	label := key // errors name the key as written
	if key != MetaKey {
		label = strconv.Quote(key)
	}
	var ps []string
	switch v := v.(type) {
	case string:
		for _, s := range strings.Split(v, ",") {
			ps = append(ps, strings.TrimSpace(s))
		}
	case []string:
		for _, s := range v {
			ps = append(ps, strings.TrimSpace(s))
		}
	case []any:
		for i, e := range v {
			s, isString := e.(string)
			if !isString {
				return nil, true, fmt.Errorf("%s: item %d: want a principal, not %s", label, i+1, describe(e))
			}
			ps = append(ps, strings.TrimSpace(s))
		}
	case nil:
		return nil, true, fmt.Errorf("%s: empty; %s, a list of them, or [] for nobody", label, validForms)
	default:
		return nil, true, fmt.Errorf("%s: want a principal or a list of principals, not %s", label, describe(v))
	}
	for _, p := range ps {
		if err := CheckPrincipal(p); err != nil {
			return nil, true, fmt.Errorf("%s: %w", label, err)
		}
	}
	return Normalize(ps), true, nil
}

// NearMissError is a front matter key that is almost "access" ("acces",
// "acess", "accesss", "Access " with a space) in front matter without an
// access key: most likely a typo, so the document is visible to nobody
// until it is fixed rather than left to a wider rule.
type NearMissError struct {
	Key string
}

func (e *NearMissError) Error() string {
	return fmt.Sprintf("key %q is not %q (a typo?); write %s: to say who may see the document", e.Key, MetaKey, MetaKey)
}

// HasMeta reports whether front matter names who may see its document,
// rightly or wrongly: FromMeta's ok.
func HasMeta(meta map[string]any) bool {
	_, _, ok, _ := metaValue(meta)
	return ok
}

// metaValue finds the access key of front matter, in any case; ok is
// false when there is none and no key is almost one.
func metaValue(meta map[string]any) (key string, v any, ok bool, err error) {
	var keys []string
	near := ""
	for k := range meta {
		switch {
		case strings.EqualFold(k, MetaKey):
			keys = append(keys, k)
		case near == "" || k < near:
			if nearMiss(k, meta[k]) {
				near = k
			}
		}
	}
	switch {
	case len(keys) > 1:
		slices.Sort(keys)
		return "", nil, true, fmt.Errorf("%s: given %d times (%s): keep one", MetaKey, len(keys), strings.Join(keys, ", "))
	case len(keys) == 1:
		return keys[0], meta[keys[0]], true, nil
	case near != "":
		return near, meta[near], true, &NearMissError{Key: near}
	}
	return "", nil, false, nil
}

// nearMiss reports whether key (not "access" in any case) is almost
// "access": one edit away (a letter missed, doubled, changed or two
// swapped, a space or a sign added), or two away with a value that names
// principals (so that "success: true" or "accent: british" are not).
func nearMiss(key string, v any) bool {
	if len(key) < len(MetaKey)-2 || len(key) > len(MetaKey)+2 {
		return false
	}
	switch editDistance(strings.ToLower(key), MetaKey) {
	case 1:
		return true
	case 2:
		return namesPrincipals(v)
	}
	return false
}

// namesPrincipals reports whether a front matter value looks like who may
// see a document: public, user:..., group:..., or a list of those.
func namesPrincipals(v any) bool {
	looks := func(s string) bool {
		s = strings.TrimSpace(s)
		return s == Public || strings.HasPrefix(s, UserPrefix) || strings.HasPrefix(s, GroupPrefix)
	}
	switch v := v.(type) {
	case string:
		return slices.ContainsFunc(strings.Split(v, ","), looks)
	case []string:
		return slices.ContainsFunc(v, looks)
	case []any:
		return slices.ContainsFunc(v, func(e any) bool { s, ok := e.(string); return ok && looks(s) })
	}
	return false
}

// editDistance is the optimal string alignment distance of a and b, in
// bytes: insertions, deletions, substitutions and swaps of neighbours.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// describe names a decoded YAML or JSON value for an error.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a mapping"
	case string:
		return fmt.Sprintf("%q", v)
	default:
		return fmt.Sprintf("%T %v", v, v)
	}
}

// Resolve decides who may see the file at path (slash-separated, relative
// to the source's root), most specific first: its front matter, else the
// last line of rules (nil when the source has no .ragaccess) matching it,
// else the source's allow list. The principals are sorted and deduplicated;
// nil means nobody. from says which of the three decided, for explanations:
// FromFrontMatter, ".ragaccess line N" or FromAllow. A bad front matter
// value is an error, not a fall back to a wider rule.
func Resolve(meta map[string]any, rules *Rules, path string, allow []string) (principals []string, from string, err error) {
	ps, ok, err := FromMeta(meta)
	if err != nil {
		return nil, FromFrontMatter, fmt.Errorf("front matter: %w", err)
	}
	if ok {
		return ps, FromFrontMatter, nil
	}
	if r := rules.match(path); r != nil {
		return slices.Clone(r.principals), fmt.Sprintf("%s line %d", RulesFile, r.line), nil
	}
	for _, p := range allow {
		if err := CheckPrincipal(p); err != nil {
			return nil, FromAllow, fmt.Errorf("%s: %w", FromAllow, err)
		}
	}
	return Normalize(allow), FromAllow, nil
}

// Visible reports whether a file whose principals are acl is visible to
// who: they have a principal in common, or the file is public (public is
// everyone's, even when who leaves it out).
func Visible(acl, who []string) bool {
	for _, a := range acl {
		if a == Public || slices.Contains(who, a) {
			return true
		}
	}
	return false
}
